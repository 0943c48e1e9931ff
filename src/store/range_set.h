// RangeMap: non-overlapping half-open byte ranges [start, end) each carrying a value, where
// inserting a range overwrites whatever it overlaps (newest write wins). Used to build the
// view of a disk at a point, to fold, and to find records that later writes cover.
// Header-only; thread-compatible.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>

namespace lifeline::store {

template <typename V>
class RangeMap {
 public:
  struct Entry {
    uint64_t end;
    V value;
  };
  using Map = std::map<uint64_t, Entry>;

  // Sets [start, end) to value, splitting or dropping what was there.
  void Assign(uint64_t start, uint64_t end, const V& value) {
    if (start >= end) return;
    Cut(start);
    Cut(end);
    auto it = map_.lower_bound(start);
    while (it != map_.end() && it->first < end) it = map_.erase(it);
    map_.emplace(start, Entry{end, value});
  }
  // True when every byte of [start, end) is inside some range.
  bool Covers(uint64_t start, uint64_t end) const {
    uint64_t pos = start;
    auto it = map_.upper_bound(pos);
    if (it != map_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.end > pos) pos = prev->second.end;
    }
    while (pos < end) {
      if (it == map_.end() || it->first > pos) return false;
      pos = std::max(pos, it->second.end);
      ++it;
    }
    return true;
  }
  const Map& entries() const { return map_; }
  bool empty() const { return map_.empty(); }
  size_t size() const { return map_.size(); }

 private:
  // Splits the range containing `pos` (if any) so that a range starts at `pos`.
  void Cut(uint64_t pos) {
    auto it = map_.upper_bound(pos);
    if (it == map_.begin()) return;
    --it;
    if (it->first < pos && it->second.end > pos) {
      Entry right{it->second.end, it->second.value};
      it->second.end = pos;
      map_.emplace(pos, right);
    }
  }
  Map map_;
};

}  // namespace lifeline::store
