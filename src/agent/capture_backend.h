// Continuous capture (nbd mode): CaptureBackend is an nbd::Backend that wraps the disk's
// own backend; after a write, trim or zero completes locally (and before the NBD reply) it
// numbers the write under one short lock and appends it to a CaptureQueue, so seq order is
// completion order and every prefix of the stream is a crash-consistent disk state.
// CaptureQueue bounds what waits for the link: a memory buffer, then a bounded spill file
// (spill.h), then a dirty bitmap (write order lost for that span; resynced later).
// Thread-safe: Record/Hold/Persist from any thread; Pop/Ack from one sender thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "agent/spill.h"
#include "nbd/backend.h"
#include "wire/messages.h"

namespace lifeline::agent {

// Back-pressure state, as shown in health.
enum class CaptureState { kStreaming = 0, kSpilling = 1, kBitmap = 2, kResync = 3 };
const char* CaptureStateName(CaptureState s);

struct CaptureQueueOptions {
  uint64_t max_memory_bytes = 256u << 20;  // records waiting in memory
  uint64_t max_spill_bytes = 0;            // 0: no spill file
  std::string state_dir;                   // dirty bitmap and spill file; empty: not persisted
  uint32_t block_bytes = 64u << 10;        // dirty bitmap granularity
  bool keep_data = true;                   // false: number writes without their bytes (replication off)
  uint64_t max_data_piece_bytes = 4u << 20;   // the wire's limits per record
  uint64_t max_zero_piece_bytes = 32u << 20;
};

struct CaptureQueueStats {
  CaptureState state = CaptureState::kStreaming;
  uint64_t last_seq = 0;        // newest assigned seq
  uint64_t memory_bytes = 0;
  uint64_t spill_bytes = 0;
  uint64_t dirty_blocks = 0;
  uint64_t records = 0;         // writes recorded since start
  uint64_t bitmap_entries = 0;  // times the queue fell back to the bitmap
  uint64_t resync_bytes = 0;    // disk bytes ResyncStep read and queued since start
  int64_t oldest_unacked_ns = 0;  // source time of the oldest write not acknowledged (or of
                                  // the first dirty block still waiting for a resync); 0 none
};

class CaptureQueue {
 public:
  // `disk_bytes`: the disk's size; `first_seq`: the seq the next write gets.
  CaptureQueue(CaptureQueueOptions options, uint64_t disk_bytes, uint64_t first_seq);
  ~CaptureQueue();
  // Loads the persisted dirty bitmap (writes acknowledged to the client but maybe not to
  // the vault before a restart) and opens the spill file, whose surviving records are
  // turned into dirty blocks too. Then everything starts in resync if anything is dirty.
  Status Open();

  // Numbers a completed write and queues it (or marks its blocks dirty). Never blocks on
  // the link; waits only while a group barrier holds completions (bounded). `data` for
  // kData. Returns the write's last seq, or 0 when it went to the bitmap (or was refused
  // by the fence: RecordWrite says so).
  uint64_t Record(wire::WriteKind kind, uint64_t offset, uint64_t length, ByteSpan data);
  // Record, but Unauthenticated (NBD: EPERM) once the queue is fenced: the write must not
  // be acknowledged to the machine.
  Result<uint64_t> RecordWrite(wire::WriteKind kind, uint64_t offset, uint64_t length,
                               ByteSpan data);

  // Fence for a planned failover: from now on RecordWrite refuses every write, so nothing
  // the machine is told is written can miss the final point. Returns the newest seq
  // recorded before the fence. Unfence lifts it (a cancelled failover).
  // Fence waits for the changes inside the gate (below) to finish: after it returns, no
  // change can reach the disk until Unfence.
  uint64_t Fence();
  void Unfence();
  bool fenced() const;
  // The gate a change to the disk holds from its fence check until it is recorded, so a
  // change is either refused before it touches the disk or numbered before the fence's seq
  // (a write applied locally but refused would leave the disk ahead of the replica).
  // REQUIRES for fenced_in_gate(): the returned lock is held.
  std::shared_lock<std::shared_mutex> EnterChange() const { return std::shared_lock(fence_gate_); }
  bool fenced_in_gate() const { return fenced_; }
  // Queues a point at the newest seq, unless the stream is not a consistent disk state
  // (dirty blocks or resync pending): then returns 0.
  uint64_t RecordPoint(wire::PointKind kind, const std::string& label, const std::string& group_id,
                       int64_t time_ns);
  // Makes every write recorded so far survive a restart of the agent: persists the dirty
  // bitmap plus the blocks of every record not yet acknowledged by the vault.
  Status Persist();

  // Sender side: the next record in seq order; false after `timeout_ms` without one.
  bool Pop(CaptureRecord* out, int64_t timeout_ms);
  // The vault acknowledged every seq <= `seq` (drops them from the unacked list).
  void Ack(uint64_t seq);
  // Resync step (sender thread): when memory is drained and blocks are dirty, reads up to
  // `max_blocks` dirty blocks through `read` under the ordering lock, clears them and
  // queues them as writes. Returns true if it queued something.
  using ReadFn = std::function<Status(uint64_t offset, MutableByteSpan out)>;
  Result<bool> ResyncStep(const ReadFn& read, uint32_t max_blocks);
  // Marks every block dirty (initial replication of a disk the replica lacks), except
  // ranges `is_hole` says read as zeros.
  void MarkAllDirty(const std::function<bool(uint64_t offset, uint64_t length)>& is_hole);
  // Marks the blocks of [offset, offset + length) dirty (a resync by block hashes found
  // them different from the replica). Never clears anything.
  void MarkDirty(uint64_t offset, uint64_t length);
  // While a resync by block hashes compares (true), blocks not yet compared may differ
  // from the replica although none is dirty: no point and no group hold is possible, and
  // the state shows as resync.
  void SetComparing(bool comparing);

  // Group barrier: completions wait (at most until `deadline_mono_ns`) until Release().
  void Hold(int64_t deadline_mono_ns);
  void Release();
  // Cross-machine group hold (the vault coordinates): holds completions like Hold() and
  // returns the seq of the newest completed write at that moment. A hold that cannot make
  // a point (dirty blocks, bitmap, no write yet) is not taken: FailedPrecondition.
  Result<uint64_t> HoldForGroup(uint64_t hold_id, int64_t deadline_mono_ns);
  // Ends hold `hold_id`. True when it was still in force (its deadline had not passed and
  // no other hold replaced it): only then did no write complete since it began.
  bool ReleaseGroup(uint64_t hold_id, int64_t* held_us);

  // Why Open() fell back to resyncing the whole disk (a damaged bitmap or spill file); "".
  std::string open_warning() const;
  // Open() found a valid dirty bitmap file.
  bool loaded_bitmap() const { return loaded_bitmap_; }

  void Close();  // wakes Pop
  CaptureQueueStats stats() const;
  uint64_t last_seq() const;

 private:
  struct Unacked {
    uint64_t last_seq;
    uint64_t offset;
    uint64_t length;
    int64_t time_ns;
  };
  void MarkDirtyLocked(uint64_t offset, uint64_t length);
  uint64_t RecordSizeLocked(const CaptureRecord& r) const;
  void PushLocked(CaptureRecord r);
  Status WriteBitmapFile(const std::vector<uint8_t>& bits);
  std::string BitmapPath() const;

  class DataPool;
  std::shared_ptr<DataPool> pool_;   // recycles record buffers (shared: records outlive the queue)
  const CaptureQueueOptions options_;
  const uint64_t disk_bytes_;
  const uint64_t block_count_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // records queued, close
  std::condition_variable hold_cv_;  // barrier released
  std::deque<CaptureRecord> memory_;
  uint64_t memory_bytes_ = 0;
  std::unique_ptr<SpillFile> spill_;
  bool spilling_ = false;            // records go to the spill until it drains (FIFO)
  std::vector<uint8_t> dirty_;       // one byte per block (simple; 16 KiB per GiB at 64 KiB)
  uint64_t dirty_count_ = 0;
  int64_t dirty_since_ns_ = 0;       // source time the bitmap last went from clean to dirty
  uint64_t next_seq_;
  std::deque<Unacked> unacked_;      // seq order
  uint64_t acked_seq_ = 0;
  uint64_t resync_cursor_ = 0;
  // The range ResyncStep is reading without the lock (length 0: none), and whether a write
  // landed in it meanwhile (then its blocks are dirty again: the read may be stale).
  uint64_t resync_read_offset_ = 0, resync_read_length_ = 0;
  bool resync_read_raced_ = false;
  bool holding_ = false;
  int64_t hold_deadline_ns_ = 0;
  uint64_t hold_id_ = 0;             // the vault's id of a cross-machine hold, 0: local
  int64_t hold_start_ns_ = 0;
  bool closed_ = false;
  bool fenced_ = false;              // planned failover: writes are refused; written under
                                     // fence_gate_ (exclusive) and mu_
  mutable std::shared_mutex fence_gate_;
  bool overflow_ = false;            // buffers were full: new writes go to the bitmap
  std::atomic<bool> overflow_hint_{false};  // overflow_, readable without mu_ (a hint only)
  bool comparing_ = false;           // a resync by block hashes is comparing (SetComparing)
  bool persisted_clean_ = false;     // the bitmap file on disk marks nothing
  std::mutex persist_mu_;            // one Persist at a time
  CaptureQueueStats stats_;
  std::string open_warning_;
  bool loaded_bitmap_ = false;
};

// The nbd::Backend that records completed writes into a CaptureQueue.
// Once the queue is fenced, writes, trims and zeroes are refused (EPERM) without touching
// the disk.
class CaptureBackend final : public nbd::Backend {
 public:
  CaptureBackend(std::shared_ptr<nbd::Backend> inner, CaptureQueue* queue) : inner_(std::move(inner)), queue_(queue) {}

  uint64_t size() const override { return inner_->size(); }
  Status Read(uint64_t offset, MutableByteSpan out) override { return inner_->Read(offset, out); }
  Status Write(uint64_t offset, ByteSpan data, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length, bool fua) override;
  Status WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode mode, bool fua) override;
  Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                     std::vector<nbd::Extent>* out) override {
    return inner_->BlockStatus(offset, length, max_extents, out);
  }
  nbd::Backend* inner() { return inner_.get(); }

 private:
  std::shared_ptr<nbd::Backend> inner_;
  CaptureQueue* const queue_;
};

}  // namespace lifeline::agent
