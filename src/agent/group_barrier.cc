// GroupBarrier: hold, point on every member, release. See group_barrier.h.
#include "agent/group_barrier.h"

#include <algorithm>

#include "common/clock.h"

namespace lifeline::agent {

GroupBarrier::GroupBarrier(std::vector<NbdCapture*> members, int64_t max_hold_ms)
    : members_(std::move(members)), max_hold_ms_(std::clamp<int64_t>(max_hold_ms, 1, kMaxHoldMs)) {}

Result<GroupPointResult> GroupBarrier::TakePoint(const std::string& group_id, const std::string& label) {
  if (members_.empty()) return Status::InvalidArgument("a group point needs at least one member");
  Clock* clock = Clock::System();
  int64_t start = clock->MonotonicNanos();
  int64_t deadline = start + max_hold_ms_ * 1'000'000;
  for (auto* m : members_) m->queue()->Hold(deadline);
  // Completions already past the hold check finish recording under the queue lock before
  // RecordPoint gets it; later ones wait. So each member's point covers exactly what had
  // completed when its hold began, and nothing completes anywhere until all points are in.
  GroupPointResult r;
  r.group_id = group_id;
  r.time_ns = clock->NowUnixNanos();
  Status failure;
  for (auto* m : members_) {  // all or nothing: check every member before recording any point
    auto q = m->queue()->stats();
    if (q.dirty_blocks > 0 || q.state == CaptureState::kBitmap || q.last_seq == 0)
      failure = Status::FailedPrecondition("member " + m->url() + " is resyncing or has no writes");
  }
  for (auto* m : members_) {
    if (!failure.ok()) break;
    auto seq = m->TakePoint(wire::PointKind::kGroup, label, group_id, r.time_ns);
    if (!seq.ok()) {
      failure = seq.status();
      break;
    }
    r.seqs.push_back(*seq);
  }
  bool late = clock->MonotonicNanos() > deadline;
  for (auto* m : members_) m->queue()->Release();
  r.held_us = (clock->MonotonicNanos() - start) / 1000;
  if (!failure.ok()) return failure.WithContext("group point " + group_id);
  if (late) return Status::Busy("group point " + group_id + " took longer than the " + std::to_string(max_hold_ms_) + " ms hold");
  return r;
}

}  // namespace lifeline::agent
