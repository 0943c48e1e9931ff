// GroupCoordinator: hold, release, record. See group_coordinator.h.
#include "vault/group_coordinator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/log.h"

namespace lifeline::vault {

namespace {
constexpr char kLog[] = "group";

int64_t Mono() { return Clock::System()->MonotonicNanos(); }

// Hold ids are unique per vault run and unlikely to repeat across runs (an agent may still
// hold an old one when the vault restarts).
uint64_t NextHoldId() {
  static std::atomic<uint64_t> next{uint64_t(Clock::System()->NowUnixNanos())};
  return next++;
}
}  // namespace

Result<GroupPointOutcome> GroupCoordinator::TakePoint(const std::string& group_id,
                                                      const std::vector<std::string>& disk_ids,
                                                      const std::string& label,
                                                      const GroupPointOptions& options) {
  if (disk_ids.empty()) return Status::InvalidArgument("group " + group_id + " has no member disk");
  if (options.max_hold_ms == 0 || options.max_hold_ms > wire::kMaxGroupHoldMs)
    return Status::InvalidArgument("a group hold must last 1.." +
                                   std::to_string(wire::kMaxGroupHoldMs) + " ms");
  {
    // One point of a group at a time: a manual one waits for a scheduled one (bounded).
    std::unique_lock l(mu_);
    if (!idle_cv_.wait_for(l, std::chrono::seconds(10),
                           [&] { return !busy_groups_.count(group_id); }))
      return Status::Busy("a point of group " + group_id + " is already being taken");
    busy_groups_.insert(group_id);
  }
  struct Done {
    GroupCoordinator* c;
    std::string g;
    ~Done() {
      std::lock_guard l(c->mu_);
      c->busy_groups_.erase(g);
      c->idle_cv_.notify_all();
    }
  } done{this, group_id};

  std::vector<DiskSink*> sinks;
  for (const auto& id : disk_ids) {
    DiskSink* sink = service_->FindSink(id);
    if (!sink)
      return Status::FailedPrecondition("group " + group_id + ": the agent of disk " + id +
                                        " never connected");
    sinks.push_back(sink);
  }
  GroupPointOutcome out;
  out.group_id = group_id;
  wire::GroupHold hold;
  hold.hold_id = NextHoldId();
  hold.max_hold_ms = options.max_hold_ms;
  hold.group_id = group_id;
  wire::GroupRelease release;
  release.hold_id = hold.hold_id;

  // Phase 1: hold everywhere. The holds end by themselves max_hold_ms after they began,
  // so an answer later than that from the first send is of no use.
  const int64_t start = Mono();
  const int64_t held_deadline = start + int64_t(options.max_hold_ms) * 1'000'000;
  Status failure;
  std::vector<bool> sent(sinks.size(), false);
  for (size_t i = 0; i < sinks.size(); ++i) {
    Status s = sinks[i]->SendControl(wire::Encode(hold), options.max_hold_ms);
    if (!s.ok()) {
      failure = Status::FailedPrecondition("disk " + disk_ids[i] + ": " + s.message());
      break;
    }
    sent[i] = true;
  }
  int64_t newest_time = 0;
  for (size_t i = 0; i < sinks.size() && failure.ok(); ++i) {
    auto held = sinks[i]->TakeGroupHeld(hold.hold_id, held_deadline);
    if (!held) {
      failure = Status::Busy("disk " + disk_ids[i] + " did not answer the hold within " +
                             std::to_string(options.max_hold_ms) + " ms");
    } else if (!held->ok) {
      failure = Status::FailedPrecondition("disk " + disk_ids[i] +
                                           " cannot take a point now: " + held->reason);
    } else {
      out.seqs[disk_ids[i]] = held->seq;
      newest_time = std::max(newest_time, held->time_ns);
    }
  }
  // Phase 2: release every hold we asked for (also on failure: never leave a VM waiting
  // for the deadline when we know the answer), and learn whether each was still in force.
  const int64_t release_deadline = Mono() + options.release_timeout_ms * 1'000'000;
  for (size_t i = 0; i < sinks.size(); ++i)
    if (sent[i]) (void)sinks[i]->SendControl(wire::Encode(release), 1000);
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (!sent[i]) continue;
    auto released = sinks[i]->TakeGroupReleased(hold.hold_id, release_deadline);
    if (!failure.ok()) continue;  // drain the answers, the point is lost anyway
    if (!released) {
      failure = Status::Busy("disk " + disk_ids[i] + " did not confirm the release");
    } else if (!released->held) {
      failure = Status::Busy("disk " + disk_ids[i] + ": the hold had expired (" +
                             std::to_string(options.max_hold_ms) + " ms) before every member held");
    } else {
      out.held_us[disk_ids[i]] = released->held_us;
    }
  }
  out.coordination_us = (Mono() - start) / 1000;
  if (!failure.ok()) {
    log::Warn(kLog, "group point of " + group_id + " aborted: " + failure.message());
    return failure.WithContext("group point of " + group_id + " aborted");
  }

  // Phase 3: record once every member's seq is durable at the vault.
  const int64_t durable_deadline = Mono() + options.durable_timeout_ms * 1'000'000;
  for (const auto& [id, seq] : out.seqs) {
    LL_ASSIGN_OR_RETURN(store::DiskReplica * d, store_->Disk(id));
    while (d->durable_seq() < seq) {
      if (Mono() > durable_deadline)
        return Status::Busy("group point of " + group_id + ": disk " + id + " did not make seq " +
                            std::to_string(seq) + " durable in time; nothing recorded");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  out.time_unix_ns = newest_time ? newest_time : Clock::System()->NowUnixNanos();
  LL_ASSIGN_OR_RETURN(auto gp, store_->AddGroupPoint(group_id, label, out.seqs, out.time_unix_ns));
  out.group_point_id = gp.group_point_id;
  int64_t max_held = 0;
  for (const auto& [id, us] : out.held_us) max_held = std::max(max_held, us);
  log::Info(kLog, "group point " + std::to_string(gp.group_point_id) + " of " + group_id + " on " +
                      std::to_string(out.seqs.size()) + " disks; completions held at most " +
                      std::to_string(max_held) + " us");
  return out;
}

}  // namespace lifeline::vault
