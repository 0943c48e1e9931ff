// NbdCapture: nbd mode for one disk. Serves the disk image over NBD through a
// CaptureBackend, and runs the sender thread that drains the capture stream into a
// DiskSender, takes a crash-consistent point every policy interval, resyncs dirty blocks
// (initial replication, after the bitmap fallback, after a restart) and then takes a point.
// When the replica holds an older state of the disk it first compares block hashes with it
// (hash_compare.h) and resyncs only the blocks that differ.
// App-consistent points run the pre hook, insert the point, run the post hook.
// Thread-safety: Start/Stop from one controlling thread; everything else from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/capture_backend.h"
#include "agent/disk_sender.h"
#include "agent/hash_compare.h"
#include "nbd/export_registry.h"
#include "nbd/server.h"

namespace lifeline::agent {

// CPU nice value of the agent's replication threads (capture hand-off, TLS connections):
// the protected machine's own I/O on the same host comes first; under CPU pressure the
// replication lag grows instead of the machine's writes slowing down.
constexpr int kReplicationNice = 10;

struct NbdCaptureOptions {
  std::string disk_path;             // raw image served to the VM
  std::string state_dir;             // dirty bitmap, spill file, capture state
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;          // 0: any free port
  std::string unix_path;             // optional Unix socket as well
  std::string export_name;           // "" = default export
  int threads_per_connection = 8;
  int64_t point_interval_ms = 5000;  // crash-consistent points; 0: none
  std::string pre_hook, post_hook;   // app-consistent points
  int64_t hook_timeout_ms = 60000;
  int64_t app_point_interval_ms = 0; // app-consistent points on a schedule; 0: off
  CaptureQueueOptions queue;         // state_dir is filled from above
  uint32_t resync_chunk_blocks = 16; // blocks read per resync step
  uint32_t compare_batch_blocks = 256;  // blocks per step of a resync by block hashes
  // The vault's request for a whole-disk resync (0: none). A value other than the one in
  // the state file means the disk was written behind the agent's back (a failback into the
  // original disk): the replica is not this disk's state, so every block, holes included,
  // is compared with the replica by its hash and the blocks that differ are sent; the value
  // is kept so a restart does not start over.
  uint64_t resync_epoch = 0;
  // Start fenced (a planned failover's drain was requested before this start): the export
  // refuses writes from its first request.
  bool fenced = false;
  // The vault's replica is not the one this state was written for (the machine was deleted
  // and protected again): the disk is copied again, holes too unless the replica is empty.
  bool replica_replaced = false;
  // Nice value (0..19) of the thread that hands captured writes to the sender; the
  // sender's connections take theirs from SenderOptions. Replication yields CPU to the
  // machine's own I/O: under CPU pressure the lag grows, the writes do not slow down.
  int replication_nice = kReplicationNice;
};

struct NbdCaptureStats {
  std::string url;
  CaptureQueueStats queue;
  uint64_t acked_seq = 0;
  uint64_t points = 0;
  uint64_t last_point_seq = 0;
  int64_t lag_ms = 0;                // age of the oldest write not yet durable at the vault
  bool initial_complete = false;
  uint64_t initial_blocks = 0;       // blocks the initial copy started with (all runs)
  bool replicating = false;
  uint64_t app_points = 0;           // app-consistent points taken
  uint64_t app_fallbacks = 0;        // scheduled app points that became crash-consistent
  std::string last_warning;          // e.g. a failed hook; "" when the last app point went well
  // Resync by block hashes: running (comparing, then sending what differs), and its
  // figures; after it ends they stay as the last one's (hash_resync_done).
  bool hash_resync = false;
  bool hash_resync_done = false;
  HashCompareProgress compare;
  uint64_t resync_bytes = 0;  // disk bytes this resync read and sent (its dirty blocks)
  double resync_seconds = 0;
};

class NbdCapture {
 public:
  // `sender` may be null: writes are numbered and dropped (replication off, benchmarks).
  // REQUIRES: `sender` outlives this object.
  NbdCapture(NbdCaptureOptions options, DiskSender* sender);
  ~NbdCapture();  // Stop()
  NbdCapture(const NbdCapture&) = delete;
  NbdCapture& operator=(const NbdCapture&) = delete;

  // Opens the image and state, starts numbering at `first_seq` (the vault's durable seq
  // + 1), starts the NBD server and the sender thread.
  Status Start(uint64_t first_seq);
  // Stops the NBD server, the sender thread and the DiskSender; persists the dirty bitmap
  // (what the vault has not acknowledged is resynced at the next Start).
  void Stop();

  std::string url() const { return url_; }
  uint16_t port() const { return server_ ? server_->tcp_port() : 0; }
  CaptureQueue* queue() { return queue_.get(); }

  // A point at the newest completed write; FailedPrecondition while dirty blocks wait for
  // a resync (the stream is not a disk state then). Returns its seq.
  Result<uint64_t> TakePoint(wire::PointKind kind, const std::string& label, const std::string& group_id = "",
                             int64_t time_ns = 0);
  // pre hook, point (kApp), post hook (run even if the point failed).
  Result<uint64_t> TakeAppPoint(const std::string& label);
  // What the schedule runs: TakeAppPoint, and when a hook fails a crash-consistent point
  // labelled "app-hook-failed" instead, with a warning (the schedule never stalls on a
  // hook: each is bounded by hook_timeout_ms). Hook output goes to the log.
  Result<uint64_t> TakeScheduledAppPoint();
  // Waits until everything recorded so far is acknowledged by the vault and no block is
  // dirty (Busy after `timeout_ms`).
  Status WaitCaughtUp(int64_t timeout_ms);

  // Planned failover. Fence: the export refuses writes, trims and zeroes (EPERM) from now
  // on; returns the newest seq recorded before. Unfence: writes are taken again.
  uint64_t Fence() { return queue_->Fence(); }
  void Unfence() { queue_->Unfence(); }
  // REQUIRES: fenced. Once everything queued is acknowledged by the vault and no block is
  // dirty, queues the final point and returns its seq (the drained seq); Busy before.
  Result<uint64_t> TakeDrainPoint();

  NbdCaptureStats stats() const;

 private:
  void SenderLoop();
  void AppPointLoop();
  Status RunHook(const char* which, const std::string& command);
  Status Submit(const CaptureRecord& r);
  Status LoadState();
  Status SaveState();
  // Starts a resync by block hashes from block `first_block` (see Start).
  void BeginHashResync(uint64_t first_block);
  // One comparison step from the sender loop (false when it failed: retried later); at the
  // end, persists the blocks found different so that a restart resumes sending them
  // instead of comparing again.
  bool CompareStep();
  void EndHashResync();

  const NbdCaptureOptions options_;
  DiskSender* const sender_;
  std::shared_ptr<nbd::Backend> image_;
  std::unique_ptr<CaptureQueue> queue_;
  std::shared_ptr<CaptureBackend> backend_;
  nbd::ExportRegistry registry_;
  std::unique_ptr<nbd::Server> server_;
  std::string url_;
  std::thread sender_thread_;
  std::thread app_thread_;
  std::atomic<uint64_t> app_points_{0};
  std::atomic<uint64_t> app_fallbacks_{0};
  mutable std::mutex warning_mu_;
  std::string last_warning_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> initial_complete_{false};
  bool initial_started_ = false;
  std::atomic<uint64_t> initial_blocks_{0};
  uint64_t resync_epoch_ = 0;        // the vault's last resync request this state answered
  // A resync by block hashes is under way (state file hash_resync=1): comparing while
  // compare_ is set, then sending the blocks found different (the initial-copy machinery).
  std::atomic<bool> hash_resync_{false};
  uint64_t compare_next_block_ = 0;  // persisted: blocks below it compared (and their
                                     // differing ones in the persisted dirty bitmap)
  std::unique_ptr<BlockHashCompare> compare_;
  mutable std::mutex resync_mu_;  // guards the figures below (read by stats())
  HashCompareProgress resync_progress_;
  bool hash_resync_done_ = false;
  uint64_t resync_bytes_start_ = 0, resync_bytes_end_ = 0;
  int64_t resync_start_ms_ = 0, resync_end_ms_ = 0;
  int64_t compare_error_log_ms_ = 0;  // rate-limits the log of a failing comparison
  std::atomic<uint64_t> points_{0};
  std::atomic<uint64_t> last_point_seq_{0};
  std::atomic<uint64_t> submitted_seq_{0};
  std::atomic<uint64_t> local_acked_{0};  // replication off: what the sender thread dropped
  uint64_t first_seq_ = 1;
  bool started_ = false;
};

// The agent daemon's worker for one disk assigned in nbd mode: `assignment_json` is the
// vault's assignment (path, interval, hooks, "capture": {nbd_listen, point_interval_s}).
// Serves the disk until `stop`, calling `report` with a JSON progress object (phase,
// percent, initial_complete, nbd_url, capture_state, lag_ms, seqs, buffer figures) about
// every 500 ms. `sender` is started; `durable_seq` is what its Start returned.
// `drain_request` is the vault's planned-failover drain request (0: none): while it is set
// the export is fenced, and once drained the report carries
// "drain": {"request", "state": "draining"|"drained", "seq"}; back to 0 lifts the fence.
void RunNbdAssignment(const std::string& assignment_json, const std::string& state_dir,
                      DiskSender* sender, uint64_t durable_seq, const std::atomic<bool>& stop,
                      const std::atomic<uint64_t>& drain_request,
                      const std::function<void(const std::string& report_json)>& report);

}  // namespace lifeline::agent
