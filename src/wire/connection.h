// One replication stream: a Channel driven by its own I/O thread, which writes queued
// frames, decodes incoming ones, sends heartbeats when the outbound direction is idle and
// declares the path dead when nothing arrives for `dead_after_ms`.
//
// Concurrency model: one I/O thread per connection using poll() on the socket and an
// eventfd (bounded by the server's connection limit; 32 streams per disk at most). The
// application talks to it through two bounded queues: Send() blocks while the outbound
// queue holds more than max_outbound_bytes, and the I/O thread stops reading (TCP
// back-pressure) while the inbound queue holds more than max_inbound_bytes.
// All public methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "wire/channel.h"
#include "wire/frame.h"

namespace lifeline::wire {

struct ConnectionOptions {
  int64_t heartbeat_interval_ms = 250;  // send a HEARTBEAT after this much outbound idleness
  int64_t dead_after_ms = 1000;         // no byte from the peer for this long: path dead
  size_t max_outbound_bytes = 16u << 20;
  size_t max_inbound_bytes = 16u << 20;
  uint32_t max_payload_bytes = kMaxPayloadBytes;
  int64_t close_flush_ms = 2000;  // Close() waits this long at most for queued frames
  // Time this connection's own I/O thread spent waiting for a CPU during the silence is
  // added to dead_after_ms, up to this much: on an oversubscribed host the peer's threads
  // starve too, and a healthy peer must not be declared dead. On a healthy host the
  // allowance is ~0 and a dead path is still detected after dead_after_ms. 0 disables.
  int64_t max_starvation_allowance_ms = 2000;
  // Nice value of the I/O thread (and of a server's session thread): 0 normal, 1..19
  // lower, 20 the idle class. Replication runs beside the protected machine's own I/O on
  // the same host and yields CPU to it.
  int cpu_nice = 0;
  // WRITE frames wait up to this long (microseconds) after the first of them is queued,
  // or until coalesce_bytes are queued, and then go out together: one wakeup of this
  // thread, one write and one read on the peer for many 4 KiB writes instead of one each.
  // Any other frame (a point, a group-hold reply) sends what is queued at once. 0 writes
  // every frame at once. The agent's data streams use 2 ms: replication lag is counted in
  // seconds.
  int64_t coalesce_us = 0;
  size_t coalesce_bytes = 64 * 1024;
};

// Lowers the calling thread's CPU priority to `nice` (Linux nice is per thread; 20 means
// SCHED_IDLE); no-op for 0 or less. Failures are ignored: priority is an optimisation, never a
// correctness matter.
void SetCurrentThreadNice(int nice);

// Whether a peer silent for `silent_ms` is dead, given that this side waited `starved_ms`
// for a CPU during that silence. Pure; exposed for tests.
bool PeerSilenceIsDeath(int64_t silent_ms, int64_t starved_ms, const ConnectionOptions& options);
// Nanoseconds the calling thread has spent runnable but waiting for a CPU
// (/proc/thread-self/schedstat); -1 when the kernel does not report it.
int64_t ThreadRunQueueWaitNs();

struct ConnectionStats {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;  // heartbeats included
  uint64_t heartbeats_received = 0;
  int64_t rtt_us = -1;  // last heartbeat round trip, -1 before the first
};

class Connection {
 public:
  // Takes an established channel (TLS handshake done) and starts the I/O thread.
  Connection(std::unique_ptr<Channel> channel, ConnectionOptions options);
  ~Connection();  // Abort()s if still open, joins the I/O thread
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a frame. Blocks while the outbound queue is over its bound, up to timeout_ms
  // (-1: no limit): Busy on timeout. IOError/Corruption once the connection has failed.
  Status Send(OutFrame frame, int64_t timeout_ms = -1);
  // The next frame (heartbeats are consumed internally), nullopt on timeout (-1: wait
  // forever). Queued frames are delivered before the error that ended the connection.
  Result<std::optional<Frame>> Receive(int64_t timeout_ms);

  // Sends what is queued (bounded by close_flush_ms), closes TLS and the socket.
  void Close();
  // Queues an ERROR frame carrying `reason`, then Close().
  void CloseWithError(const Status& reason);
  // Closes now, dropping queued frames.
  void Abort();

  bool alive() const;
  // Ok while alive; afterwards why it ended (IOError "peer silent", Corruption, ...).
  Status status() const;
  const std::string& peer_identity() const { return peer_identity_; }
  const std::string& peer_address() const { return peer_address_; }
  ConnectionStats stats() const;

 private:
  void Run();
  void Wake();
  void Join();
  // One pass of reads; false when the connection ended.
  bool PumpReads(int64_t now_ms, bool* more);
  bool PumpWrites(int64_t now_ms, bool* more);
  // Writes piece[*offset..] once; false when the channel would block or failed (*stop).
  bool WritePiece(std::string_view piece, size_t* offset, size_t* budget, int64_t now_ms,
                  bool* stop);
  void Fail(Status s);
  void QueueHeartbeat(int64_t now_ms);
  // Nanoseconds to keep holding the queued frames before writing them (coalesce_us), 0
  // when they are due. Called by the I/O thread under mu_.
  int64_t HoldLeftNsLocked(int64_t now_ns) const;

  std::unique_ptr<Channel> channel_;
  const ConnectionOptions options_;
  const std::string peer_identity_;
  const std::string peer_address_;
  int wake_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable out_cv_;  // senders wait for room
  std::condition_variable in_cv_;   // receivers wait for frames
  std::deque<OutFrame> out_queue_;
  size_t out_bytes_ = 0;
  std::deque<Frame> in_queue_;
  size_t in_bytes_ = 0;
  Status status_;
  int64_t out_first_ns_ = 0;  // when out_queue_ last became non-empty (coalescing)
  bool out_urgent_ = false;   // a frame other than a WRITE is queued: no holding
  bool ended_ = false;        // I/O thread finished
  bool closing_ = false;      // flush, then close
  bool aborting_ = false;     // close now
  ConnectionStats stats_;

  // Owned by the I/O thread.
  FrameDecoder decoder_;
  std::vector<uint8_t> read_buf_;  // read-ahead for small frames
  size_t read_pos_ = 0;
  size_t read_len_ = 0;
  size_t write_piece_ = 0;  // 0: head of out_queue_.front(), 1: its data
  size_t write_offset_ = 0;
  std::string staged_;  // small frames taken off out_queue_, written as one piece
  size_t staged_sent_ = 0;
  uint64_t staged_frames_ = 0;
  bool read_blocked_on_write_ = false;
  bool write_blocked_ = false;
  int64_t last_rx_ms_ = 0;
  int64_t rq_wait_at_rx_ns_ = -1;  // ThreadRunQueueWaitNs() sampled near last_rx_ms_
  int64_t rq_sample_ms_ = 0;
  int64_t last_tx_ms_ = 0;
  int64_t peer_heartbeat_ns_ = 0;
  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace lifeline::wire
