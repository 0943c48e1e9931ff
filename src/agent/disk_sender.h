// DiskSender: the agent end of one disk's replication session. Writes are numbered by the
// caller (capture), handed over with Submit(), kept in a bounded window until the vault
// acknowledges their seq as durable (invariant 2), and spread over N TLS streams. When any
// stream dies (error, or heartbeats silent for about a second) the whole session reconnects
// with capped backoff, next vault address first, and resends everything above the last
// acknowledged seq. Points are resent until the vault confirms them.
// Thread-safe: Submit/SubmitPoint from capture threads; one reader thread per stream and
// one supervisor thread inside.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/codec.h"
#include "wire/backoff.h"
#include "wire/messages.h"
#include "wire/rate_limit.h"
#include "wire/transport.h"

namespace lifeline::agent {

struct SenderOptions {
  std::vector<wire::Endpoint> vaults;   // tried in order; after a failure, the next one first
  std::shared_ptr<wire::TlsContext> tls; // null: plain TCP (--insecure)
  std::string agent_id;
  std::string machine;
  std::string disk_id;
  uint64_t disk_size_bytes = 0;
  int streams = 4;                       // 1..32
  Codec codec = Codec::kLz4;
  uint64_t max_window_bytes = 512u << 20;  // unacknowledged bytes held before Submit blocks
  wire::TokenBucket* disk_limit = nullptr;   // optional bandwidth limits (not owned)
  wire::TokenBucket* agent_limit = nullptr;
  // The streams hold WRITE frames up to 2 ms to send them in batches
  // (ConnectionOptions::coalesce_us).
  wire::ConnectOptions connect = [] {
    wire::ConnectOptions o;
    o.connection.coalesce_us = 2000;
    return o;
  }();
  int64_t backoff_initial_ms = 100;
  int64_t backoff_max_ms = 3000;
};

struct SenderStats {
  bool connected = false;
  uint64_t acked_seq = 0;
  uint64_t submitted_seq = 0;
  uint64_t window_bytes = 0;
  uint64_t bytes_sent = 0;          // frame bytes, resends included
  uint64_t raw_bytes_submitted = 0; // disk bytes the writes cover
  uint64_t reconnects = 0;
  uint64_t resent_frames = 0;
  std::string vault;                // current address
  std::string last_error;
};

// Answers the vault's cross-machine group holds (docs/capture.md). Called on a stream's
// reader thread; must return quickly (it only takes the capture queue's lock).
struct GroupHoldHandler {
  std::function<wire::GroupHeld(const wire::GroupHold&)> hold;
  std::function<wire::GroupReleased(const wire::GroupRelease&)> release;
};

class DiskSender {
 public:
  explicit DiskSender(SenderOptions options);
  ~DiskSender();  // Stop()
  DiskSender(const DiskSender&) = delete;
  DiskSender& operator=(const DiskSender&) = delete;

  // Connects (retrying until `timeout_ms`) and returns the vault's durable seq: the caller
  // numbers its next write durable+1.
  Result<uint64_t> Start(int64_t timeout_ms);
  void Stop();

  // A write of raw disk bytes at `offset` (all-zero data becomes a ZERO record). Blocks
  // while the window is full. REQUIRES: seq == previous seq + 1; data size <= 4 MiB.
  Status SubmitData(uint64_t seq, uint64_t offset, std::shared_ptr<const std::string> data, int64_t time_ns);
  // A zero or trim range of up to 32 MiB.
  Status SubmitZero(uint64_t seq, uint64_t offset, uint64_t length, wire::WriteKind kind, int64_t time_ns);
  // A recovery point at `point.seq` (an already submitted seq), resent until confirmed.
  Status SubmitPoint(const wire::PointMsg& point);

  // Waits until every seq <= `seq` is acknowledged (Busy on timeout).
  Status WaitAcked(uint64_t seq, int64_t timeout_ms);
  // Waits until the vault confirmed the point at `seq`.
  Status WaitPointConfirmed(uint64_t seq, int64_t timeout_ms);
  // Block hashes of the replica at its durable seq (for resync), over stream 0.
  Result<std::vector<uint64_t>> ReplicaHashes(uint32_t block_size, uint64_t first_block, uint32_t count,
                                             int64_t timeout_ms);

  // Installs (or, with an empty handler, removes) what answers GROUP_HOLD/GROUP_RELEASE.
  // Without one, holds are refused ("not in nbd capture mode").
  void SetGroupHoldHandler(GroupHoldHandler handler);

  uint64_t acked_seq() const { return acked_seq_.load(); }
  SenderStats stats() const;
  // A fatal refusal from the vault (authentication, disk size...): the sender gave up.
  Status fatal_error() const;

 private:
  struct Item {
    uint64_t seq;
    wire::OutFrame frame;
  };
  struct Session {
    std::vector<std::shared_ptr<wire::Connection>> streams;
    std::vector<std::thread> readers;
    uint64_t id = 0;
  };
  Status Submit(uint64_t seq, wire::OutFrame frame, uint64_t raw_bytes);
  Status SendItem(const Item& item);
  void Supervise();
  Status Connect(size_t vault_index);
  void ReaderLoop(std::shared_ptr<wire::Connection> conn, uint64_t session_id);
  void TearDown();
  void OnAck(uint64_t durable_seq);
  Status OnGroupFrame(const wire::Frame& f, wire::Connection& conn);

  const SenderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // window room, acks, state changes
  std::deque<Item> window_;           // unacknowledged writes, seq order
  uint64_t window_bytes_ = 0;
  std::map<uint64_t, wire::PointMsg> pending_points_;  // by seq
  std::map<uint64_t, wire::HashReply> replies_;
  uint64_t next_request_id_ = 1;
  std::atomic<uint64_t> acked_seq_{0};
  uint64_t submitted_seq_ = 0;
  bool connected_ = false;
  bool broken_ = false;               // a stream failed: the supervisor reconnects
  bool stop_ = false;
  Status fatal_;
  Session session_;
  SenderStats stats_;
  std::thread supervisor_;
  bool started_ = false;
  std::mutex group_mu_;               // guards group_ (held while a handler runs)
  GroupHoldHandler group_;
};

}  // namespace lifeline::agent
