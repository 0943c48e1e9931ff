// DiskSink: the vault end of one disk's replication. Writes arrive on up to 32 streams in
// any order; the sink puts them back in seq order (a bounded reorder buffer), appends them
// to the replica, group-commits, and acknowledges the cumulative durable seq on every
// stream of the session (invariant 1: only fsynced seqs are acknowledged). Points are
// recorded once their seq is durable. When the vault's disk is full the sink holds the
// writes, stops reading (TCP back-pressure holds the agent) and retries until space returns.
// Thread-safe: stream handler threads call Offer/AddPoint concurrently; one commit thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "store/disk_replica.h"
#include "wire/connection.h"
#include "wire/messages.h"

namespace lifeline::vault {

struct SinkStats {
  uint64_t session_id = 0;
  int streams = 0;
  uint64_t durable_seq = 0;
  uint64_t appended_seq = 0;
  uint64_t buffered_bytes = 0;
  uint64_t bytes_received = 0;      // payload bytes of WRITE frames
  uint64_t records_received = 0;
  uint64_t duplicates_ignored = 0;  // replays of stored seqs
  uint64_t points_received = 0;     // point messages, repeats included: one per capture cycle
  int64_t last_write_unix_ns = 0;
  // Source time of the newest point message whose seq is durable, an idle cycle's repeat of
  // a stored point included: the source's disk as of then is all in the replica.
  int64_t newest_point_time_ns = 0;
  std::string condition;            // "", or why the sink is holding data ("vault disk full: ...")
};

class DiskSink {
 public:
  // REQUIRES: `replica` outlives the sink. `cpu_nice`: the commit thread's nice value, as
  // the replication connections' (wire::SetCurrentThreadNice).
  DiskSink(store::DiskReplica* replica, uint64_t max_buffer_bytes = 256u << 20, int cpu_nice = 0);
  ~DiskSink();
  DiskSink(const DiskSink&) = delete;
  DiskSink& operator=(const DiskSink&) = delete;

  // A stream of `session_id` says HELLO. A new session id drops whatever an older session
  // left in the reorder buffer and makes every appended write durable first, so the seq
  // returned is the one the agent resumes after.
  Result<uint64_t> Join(uint64_t session_id, wire::Connection* conn);
  void Leave(wire::Connection* conn);

  // Takes one write (the frame's payload is moved in). Blocks while the reorder buffer is
  // full. A seq at or below the appended one is ignored (replay).
  Status Offer(uint64_t session_id, const wire::WriteMsg& msg, std::string&& frame_payload);
  // Records a point once its seq is durable (waits up to timeout_ms), then confirms it on
  // `conn`. Duplicates (same seq, kind, label, group) are confirmed and not added again.
  Status AddPoint(const wire::PointMsg& point, wire::Connection* conn, int64_t timeout_ms = 30000);

  SinkStats stats() const;
  store::DiskReplica* replica() const { return replica_; }
  // Ends every stream of the disk now (its machine was deleted); their threads then Leave.
  void AbortStreams();

  // Group holds (group_coordinator.h): sends `frame` on one stream of the current session
  // (IOError when the agent is not connected), and collects the agent's answers.
  Status SendControl(const wire::OutFrame& frame, int64_t timeout_ms);
  void OnGroupHeld(const wire::GroupHeld& m);
  void OnGroupReleased(const wire::GroupReleased& m);
  // Waits until `deadline_mono_ns` for the answer to hold `hold_id`, and takes it.
  std::optional<wire::GroupHeld> TakeGroupHeld(uint64_t hold_id, int64_t deadline_mono_ns);
  std::optional<wire::GroupReleased> TakeGroupReleased(uint64_t hold_id, int64_t deadline_mono_ns);

 private:
  struct Pending {
    wire::WriteMsg msg;        // msg.data points into payload
    std::string payload;
  };
  void DrainLocked();          // REQUIRES: mu_
  void CommitLoop();

  store::DiskReplica* const replica_;
  const uint64_t max_buffer_bytes_;
  mutable std::mutex mu_;
  std::condition_variable room_cv_;     // offerers wait for buffer room
  std::condition_variable commit_cv_;   // the commit thread waits for work
  std::condition_variable durable_cv_;  // point adders wait for durability
  uint64_t session_id_ = 0;
  std::set<wire::Connection*> conns_;
  std::map<uint64_t, Pending> reorder_;
  uint64_t buffered_bytes_ = 0;
  uint64_t appended_seq_ = 0;
  uint64_t acked_seq_ = 0;
  SinkStats stats_;
  bool stop_ = false;
  std::thread commit_thread_;
  // Answers to group holds, by hold id (bounded: a stale answer is dropped at kMaxAnswers).
  static constexpr size_t kMaxAnswers = 64;
  std::condition_variable group_cv_;
  std::map<uint64_t, wire::GroupHeld> held_;
  std::map<uint64_t, wire::GroupReleased> released_;
};

}  // namespace lifeline::vault
