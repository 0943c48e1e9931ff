// Seq bookkeeping shared by the streams of one disk. Writes of one seq space arrive over
// up to 32 streams, so out of order; the vault may acknowledge only a cumulative seq
// (invariant 1): the highest S such that every seq <= S is durable. SeqWatermark tracks
// that S. Thread-compatible (the owner serialises calls, e.g. under the disk's mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>

#include "common/status.h"

namespace lifeline::wire {

class SeqWatermark {
 public:
  // Every seq <= start is already done (e.g. the durable seq found at vault start).
  // max_pending bounds the seqs held above a gap (a stream that never delivers its part).
  explicit SeqWatermark(uint64_t start = 0, size_t max_pending = 1 << 20)
      : watermark_(start), max_pending_(max_pending) {}

  // Marks `seq` done. A seq at or below the watermark, or already marked, is a replay:
  // Ok and nothing changes (applying a record twice is harmless, invariant 4).
  // Busy when max_pending seqs already wait above a gap.
  Status Mark(uint64_t seq);
  uint64_t watermark() const { return watermark_; }
  size_t pending() const { return pending_.size(); }
  // The first missing seq (watermark + 1), or 0 when nothing waits above a gap.
  uint64_t first_gap() const { return pending_.empty() ? 0 : watermark_ + 1; }

 private:
  uint64_t watermark_;
  size_t max_pending_;
  std::set<uint64_t> pending_;  // done seqs above watermark_ + 1
};

}  // namespace lifeline::wire
