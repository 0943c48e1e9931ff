// GroupBarrier: a consistency-group point across several disks (of one or more machines
// served by this agent). It holds write completions on every member's capture queue for a
// bounded moment (at most 50 ms; a completion waiting longer goes on by itself), records a
// point on each member at the same instant with the same group id and time, and releases.
// No write completes on any member while the points are taken, so together they are one
// crash-consistent state of the whole group. Thread-safe: TakePoint from any thread; members
// must outlive the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/nbd_capture.h"

namespace lifeline::agent {

struct GroupPointResult {
  std::string group_id;
  int64_t time_ns = 0;
  std::vector<uint64_t> seqs;  // per member, in the order given
  int64_t held_us = 0;         // how long completions were held
};

class GroupBarrier {
 public:
  static constexpr int64_t kMaxHoldMs = 50;

  explicit GroupBarrier(std::vector<NbdCapture*> members, int64_t max_hold_ms = kMaxHoldMs);

  // FailedPrecondition if a member cannot take a point now (resyncing, or no write yet):
  // then no member gets one. Busy if the hold deadline passed before every point was in.
  Result<GroupPointResult> TakePoint(const std::string& group_id, const std::string& label);

 private:
  std::vector<NbdCapture*> members_;
  int64_t max_hold_ms_;
};

}  // namespace lifeline::agent
