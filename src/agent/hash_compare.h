// BlockHashCompare: nbd mode's resync by block hashes. When the replica holds an older state
// of the disk (the vault asked for a resync after a failback wrote the disk, or the agent
// lost its state), the local image's block hashes are compared with the replica's, one
// bounded batch per step, and only the blocks that differ are marked dirty in the
// CaptureQueue, whose resync then sends them. The machine keeps writing meanwhile.
// Thread-compatible: Step() from one thread; progress() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/capture_backend.h"
#include "nbd/backend.h"

namespace lifeline::agent {

struct HashCompareOptions {
  // The same blocks and hash as scan mode's resync and the vault's BlockHashes: xxh3-64 of
  // each block (the last one may be shorter).
  uint32_t block_bytes = 64u << 10;
  // Blocks per step: one request to the vault and one local read of at most this many blocks
  // (256 x 64 KiB = 16 MiB). 1..wire::kMaxHashesPerReply.
  uint32_t batch_blocks = 256;
};

// The replica's hashes of `count` blocks from `first_block`, at the vault's durable seq.
using ReplicaHashFn = std::function<Result<std::vector<uint64_t>>(
    uint32_t block_bytes, uint64_t first_block, uint32_t count)>;

struct HashCompareProgress {
  uint64_t blocks_total = 0;
  uint64_t blocks_compared = 0;  // in this run (a resumed comparison counts from its start)
  uint64_t blocks_changed = 0;   // found different and marked dirty
  uint64_t next_block = 0;       // blocks below it are compared (across runs)
};

class BlockHashCompare {
 public:
  // Compares from `first_block` (0, or where a comparison interrupted by a restart stopped).
  // REQUIRES: `image` and `queue` outlive this object; the queue numbers every write made
  // to `image` from now on (the image is served through a CaptureBackend on `queue`).
  BlockHashCompare(HashCompareOptions options, nbd::Backend* image, CaptureQueue* queue,
                   ReplicaHashFn replica, uint64_t first_block);

  // Compares one batch. True once every block is compared. On an error (the vault
  // unreachable, a read failed) nothing moved: the same batch is compared at the next call.
  Result<bool> Step();
  bool done() const { return next_block_.load() >= blocks_total_; }
  HashCompareProgress progress() const;

 private:
  Status HashLocal(uint64_t offset, uint64_t length, std::vector<uint64_t>* hashes);

  const HashCompareOptions options_;
  nbd::Backend* const image_;
  CaptureQueue* const queue_;
  const ReplicaHashFn replica_;
  const uint64_t blocks_total_;
  const uint64_t zero_block_hash_;
  std::string buf_;  // one batch of the image
  std::atomic<uint64_t> next_block_;
  std::atomic<uint64_t> compared_{0};
  std::atomic<uint64_t> changed_{0};
};

}  // namespace lifeline::agent
