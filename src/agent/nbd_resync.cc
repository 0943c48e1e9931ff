// NbdCapture's resync by block hashes: starting it (from the start or where a restart
// left it), one comparison step at a time from the sender thread, and its end. The
// comparison itself is BlockHashCompare (hash_compare.h). See nbd_capture.h.
#include "agent/nbd_capture.h"
#include "common/clock.h"
#include "common/log.h"

namespace lifeline::agent {

namespace {
constexpr char kLog[] = "capture";
int64_t MonoMs() { return Clock::System()->MonotonicNanos() / 1000000; }
}  // namespace

void NbdCapture::BeginHashResync(uint64_t first_block) {
  hash_resync_ = true;
  HashCompareOptions ho;
  ho.block_bytes = options_.queue.block_bytes;
  ho.batch_blocks = options_.compare_batch_blocks;
  DiskSender* sender = sender_;
  compare_ = std::make_unique<BlockHashCompare>(
      ho, image_.get(), queue_.get(),
      [sender](uint32_t block_bytes, uint64_t first, uint32_t count) {
        return sender->ReplicaHashes(block_bytes, first, count, 30000);
      },
      first_block);
  HashCompareProgress p = compare_->progress();
  compare_next_block_ = p.next_block;
  if (compare_->done()) {
    // Resumed after the comparison: only sending is left, and what is dirty now is what it
    // found (and had not yet sent) before the restart.
    compare_.reset();
    p.blocks_changed = queue_->stats().dirty_blocks;
  } else {
    // The bitmap file does not hold what is left to send until the comparison ends: a
    // restart before then must compare again, never resume as if only sending were left.
    initial_started_ = false;
    queue_->SetComparing(true);
    log::Info(kLog, options_.disk_path + ": comparing block hashes with the replica from block " +
                        std::to_string(p.next_block) + " of " + std::to_string(p.blocks_total));
  }
  std::lock_guard l(resync_mu_);
  resync_progress_ = p;
  hash_resync_done_ = false;
  resync_bytes_start_ = queue_->stats().resync_bytes;
  resync_start_ms_ = MonoMs();
}

bool NbdCapture::CompareStep() {
  auto step = compare_->Step();
  HashCompareProgress p = compare_->progress();
  {
    std::lock_guard l(resync_mu_);
    resync_progress_ = p;
  }
  if (!step.ok()) {
    // The vault unreachable or slow: the same batch is compared again (writes meanwhile
    // are captured as usual); the log says so at most every 5 s.
    if (MonoMs() - compare_error_log_ms_ >= 5000) {
      compare_error_log_ms_ = MonoMs();
      log::Warn(kLog, options_.disk_path + ": comparing block hashes: " + step.status().ToString() +
                          "; retrying");
    }
    return false;
  }
  if (!*step) return true;
  compare_.reset();
  queue_->SetComparing(false);
  compare_next_block_ = p.next_block;
  log::Info(kLog, options_.disk_path + ": compared " + std::to_string(p.blocks_compared) +
                      " blocks with the replica, " + std::to_string(p.blocks_changed) +
                      " differ: resyncing them");
  if (options_.state_dir.empty()) return true;
  // The blocks found different go to the bitmap file before the state says so: from here a
  // restart resumes sending them (like an initial copy) instead of comparing again.
  Status s = queue_->Persist();
  if (s.ok()) {
    initial_started_ = true;
    s = SaveState();
  }
  if (!s.ok()) log::Error(kLog, "persist resync state: " + s.ToString());
  return true;
}

void NbdCapture::EndHashResync() {
  hash_resync_ = false;
  compare_next_block_ = 0;
  std::lock_guard l(resync_mu_);
  hash_resync_done_ = true;
  resync_bytes_end_ = queue_->stats().resync_bytes;
  resync_end_ms_ = MonoMs();
}

}  // namespace lifeline::agent
