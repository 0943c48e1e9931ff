#include "wire/seq.h"

#include <string>

namespace lifeline::wire {

Status SeqWatermark::Mark(uint64_t seq) {
  if (seq <= watermark_) return Status::Ok();
  if (seq == watermark_ + 1) {
    ++watermark_;
    // Close the gap: absorb the run of seqs that were waiting for this one.
    auto it = pending_.begin();
    while (it != pending_.end() && *it == watermark_ + 1) {
      ++watermark_;
      it = pending_.erase(it);
    }
    return Status::Ok();
  }
  if (pending_.count(seq)) return Status::Ok();
  if (pending_.size() >= max_pending_)
    return Status::Busy("seq " + std::to_string(watermark_ + 1) + " missing while " +
                        std::to_string(pending_.size()) + " later seqs wait");
  pending_.insert(seq);
  return Status::Ok();
}

}  // namespace lifeline::wire
