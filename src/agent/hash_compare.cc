// BlockHashCompare: the nbd-mode resync by block hashes. See hash_compare.h.
//
// Why a write racing with the comparison is never lost. Call D the vault's durable seq at
// which it hashed a batch, L the bytes this agent read (at any moments after it started
// serving; the read is not atomic and may even be torn by a write in progress), F the
// disk's final content. Three facts hold:
//   (a) every change to the image since the agent started serving is a write the
//       CaptureQueue numbers in completion order (or, when its buffers are full, marks
//       dirty); the only changes without a record are those made before it started (the
//       failback's), which are in L;
//   (b) the replica at seq D is the old replica plus exactly the records <= D;
//   (c) the comparison only ever marks blocks dirty; it never clears a dirty block, so a
//       block dirty for any other reason is still read again and sent by ResyncStep.
// Take a byte x of a block whose hashes were equal, so replica_D[x] == L[x]:
//   - if a record > D covers x, the last such record is the last write of x (completion
//     order), so the replica ends with F[x] whatever it held at D. This is the write that
//     lands in a block after it was hashed equal: its own record carries it;
//   - otherwise every write of x since the agent started has seq <= D and is in replica_D.
//     If there was one, replica_D[x] is the last one's data, which is F[x]. If there was
//     none, x never changed while L was read, so replica_D[x] == L[x] == F[x].
// A block whose hashes differ is marked dirty, and ResyncStep reads it again later (under
// the ordering lock when a write races with that read), so it reaches the replica with its
// newest content. A write made after the local read and made durable before the vault
// hashed (D covers it, L does not) can only make the hashes differ: the block is sent once
// more, which costs bytes, never correctness. So does a block hashed before a write: it is
// never skipped wrongly, whichever of the two reads happened first. Points and group holds
// are refused until the comparison ends (CaptureQueue::SetComparing): blocks not yet
// compared may differ from the replica.
#include "agent/hash_compare.h"

#include <algorithm>

#include "common/checksum.h"
#include "nbd/protocol.h"
#include "wire/messages.h"

namespace lifeline::agent {

namespace {
uint64_t ZeroHash(uint64_t bytes) {
  std::string zeros(bytes, '\0');
  return Xxh3(zeros.data(), zeros.size());
}
}  // namespace

BlockHashCompare::BlockHashCompare(HashCompareOptions options, nbd::Backend* image,
                                   CaptureQueue* queue, ReplicaHashFn replica, uint64_t first_block)
    : options_(options),
      image_(image),
      queue_(queue),
      replica_(std::move(replica)),
      blocks_total_((image->size() + options.block_bytes - 1) / options.block_bytes),
      zero_block_hash_(ZeroHash(options.block_bytes)),
      next_block_(std::min(first_block, blocks_total_)) {}

// Hashes [offset, offset + length) block by block. Ranges the image reports as reading
// zeros (holes) are not read: their hash is known, and reading them would only make the
// kernel zero-fill page cache.
Status BlockHashCompare::HashLocal(uint64_t offset, uint64_t length,
                                   std::vector<uint64_t>* hashes) {
  const uint64_t block = options_.block_bytes;
  const uint64_t count = (length + block - 1) / block;
  std::vector<char> zero(count, 0);
  std::vector<nbd::Extent> extents;
  for (uint64_t pos = offset; pos < offset + length;) {
    LL_RETURN_IF_ERROR(image_->BlockStatus(pos, offset + length - pos, 64, &extents));
    if (extents.empty()) break;  // treat the rest as data: always safe
    for (const auto& e : extents) {
      if (e.flags & nbd::kStateZero) {
        // Only blocks the zero extent covers whole.
        uint64_t first = (pos - offset + block - 1) / block;
        uint64_t end = std::min(pos + e.length, offset + length);
        uint64_t last = end == offset + length ? count : (end - offset) / block;
        for (uint64_t b = first; b < last; ++b) zero[b] = 1;
      }
      pos += e.length;
    }
  }
  buf_.resize(size_t(length));
  for (uint64_t b = 0; b < count;) {
    if (zero[b]) {
      ++b;
      continue;
    }
    uint64_t e = b;
    while (e < count && !zero[e]) ++e;
    uint64_t from = b * block, to = std::min(e * block, length);
    LL_RETURN_IF_ERROR(image_->Read(
        offset + from, MutableByteSpan(reinterpret_cast<uint8_t*>(buf_.data() + from), to - from)));
    b = e;
  }
  hashes->resize(count);
  for (uint64_t b = 0; b < count; ++b) {
    uint64_t n = std::min(block, length - b * block);
    if (zero[b])
      (*hashes)[b] = n == block ? zero_block_hash_ : ZeroHash(n);
    else
      (*hashes)[b] = Xxh3(buf_.data() + b * block, size_t(n));
  }
  return Status::Ok();
}

Result<bool> BlockHashCompare::Step() {
  const uint64_t first = next_block_.load();
  if (first >= blocks_total_) return true;
  const uint32_t batch = std::clamp<uint32_t>(options_.batch_blocks, 1, wire::kMaxHashesPerReply);
  const uint32_t count = uint32_t(std::min<uint64_t>(batch, blocks_total_ - first));
  const uint64_t offset = first * options_.block_bytes;
  const uint64_t length =
      std::min<uint64_t>(uint64_t(count) * options_.block_bytes, image_->size() - offset);
  // Local first, then the replica: either order is safe (see the top of this file).
  std::vector<uint64_t> local;
  LL_RETURN_IF_ERROR(HashLocal(offset, length, &local));
  LL_ASSIGN_OR_RETURN(std::vector<uint64_t> replica, replica_(options_.block_bytes, first, count));
  uint64_t changed = 0;
  for (uint32_t b = 0; b < count;) {
    // A block the replica did not hash (a short answer) counts as different.
    if (b < replica.size() && replica[b] == local[b]) {
      ++b;
      continue;
    }
    uint32_t e = b;
    while (e < count && !(e < replica.size() && replica[e] == local[e])) ++e;
    queue_->MarkDirty(offset + uint64_t(b) * options_.block_bytes,
                      uint64_t(e - b) * options_.block_bytes);
    changed += e - b;
    b = e;
  }
  changed_ += changed;
  compared_ += count;
  next_block_ = first + count;
  return next_block_.load() >= blocks_total_;
}

HashCompareProgress BlockHashCompare::progress() const {
  HashCompareProgress p;
  p.blocks_total = blocks_total_;
  p.blocks_compared = compared_.load();
  p.blocks_changed = changed_.load();
  p.next_block = next_block_.load();
  return p;
}

}  // namespace lifeline::agent
