// DiskReplica retention: fold old records into the base, thin old recovery points, and
// compact the journal between kept points. Each step is crash-safe and idempotent: the
// manifest records a fold's intent before the base changes, and compacted segments become
// live only through an atomic manifest replace.
#include <algorithm>
#include <map>
#include <set>

#include "common/log.h"
#include "store/disk_replica.h"
#include "store/range_set.h"
#include "store/segment.h"

namespace lifeline::store {

namespace {
constexpr char kLog[] = "store";
}

Status DiskReplica::ApplyRecordsToBase(const std::vector<RecordMeta>& records) {
  // Newest wins: only the final content of each range is written (fewer writes, same result).
  RangeMap<size_t> net;
  for (size_t i = 0; i < records.size(); ++i) net.Assign(records[i].offset, records[i].end(), i);
  std::string buf;
  for (const auto& [start, e] : net.entries()) {
    const RecordMeta& r = records[e.value];
    if (r.kind == RecordKind::kData) {
      buf.resize(size_t(e.end - start));
      LL_RETURN_IF_ERROR(ReadRecordRange(r, start, e.end, reinterpret_cast<uint8_t*>(buf.data())));
      LL_RETURN_IF_ERROR(base_->WriteAt(start, buf.data(), buf.size()));
    } else {
      LL_RETURN_IF_ERROR(base_->PunchHole(start, e.end - start));
    }
  }
  return base_->Sync();
}

Result<RetentionReport> DiskReplica::FoldTo(uint64_t seq) {
  std::unique_lock b(base_mu_);
  return FoldToLocked(seq);
}

Result<RetentionReport> DiskReplica::FoldToLocked(uint64_t seq) {
  RetentionReport report;
  std::vector<RecordMeta> to_fold;
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    if (!read_only_reason_.empty())
      return Status::FailedPrecondition("replica " + disk_id_ + " is read-only: " + read_only_reason_);
    seq = std::min(seq, durable_seq_.load());
    if (auto pin = MinPinnedSeq(); pin && *pin < seq) {
      seq = *pin;  // an export reads at the pinned seq: the base must not pass it
      report.held_by_pin_seq = *pin;
    }
    report.folded_to_seq = manifest_.folded_seq;
    if (seq <= manifest_.folded_seq) return report;
    next = manifest_;
    size_t end = LowerBoundSeqLocked(seq + 1);
    to_fold.assign(records_.begin(), records_.begin() + long(end));
  }
  // 1. Intent: points older than the new base can no longer be read; drop them first.
  if (next.fold_target_seq != seq) {
    next.fold_target_seq = seq;
    size_t before = next.points.size();
    std::erase_if(next.points, [&](const RecoveryPoint& p) { return p.seq < seq; });
    report.points_expired = before - next.points.size();
    LL_RETURN_IF_ERROR(CommitManifestLocked(next));
  }
  // 2. Apply to the base and fsync it. Redoing this after a crash gives the same base.
  LL_RETURN_IF_ERROR(ApplyRecordsToBase(to_fold));
  // 3. Commit: the base now holds every record <= seq; drop segments with nothing newer.
  std::set<const Segment*> still_needed;
  std::vector<std::shared_ptr<Segment>> drop;
  {
    std::shared_lock l(mu_);
    for (size_t i = LowerBoundSeqLocked(seq + 1); i < records_.size(); ++i)
      still_needed.insert(records_[i].segment.get());
    if (active_) still_needed.insert(active_.get());
    for (const auto& s : sealed_)
      if (!still_needed.count(s.get())) drop.push_back(s);
  }
  next.folded_seq = seq;
  next.folded_time_unix_ns = to_fold.empty() ? next.folded_time_unix_ns : to_fold.back().time_unix_ns;
  next.fold_target_seq = 0;
  std::erase_if(next.segments, [&](const SegmentInfo& info) {
    return std::any_of(drop.begin(), drop.end(), [&](const auto& s) { return s->number() == info.number; });
  });
  LL_RETURN_IF_ERROR(CommitManifestLocked(next));
  {
    std::unique_lock l(mu_);
    size_t n = LowerBoundSeqLocked(seq + 1);
    for (size_t i = 0; i < n; ++i) records_.pop_front();
    first_id_ += n;
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      auto& ids = it->second;
      ids.erase(ids.begin(), std::lower_bound(ids.begin(), ids.end(), first_id_));
      it = ids.empty() ? chunks_.erase(it) : std::next(it);
    }
    std::erase_if(sealed_, [&](const auto& s) { return !still_needed.count(s.get()); });
    report.records_folded = n;
  }
  for (const auto& s : drop) {
    report.bytes_reclaimed += s->size();
    ++report.segments_removed;
    Status st = fs_->Remove(s->path());
    if (!st.ok()) log::Warn(kLog, "could not remove folded segment (removed at next open): " + st.message());
  }
  report.folded_to_seq = seq;
  return report;
}

std::vector<RecoveryPoint> DiskReplica::ThinPoints(int64_t now, uint64_t* expired, uint64_t* thinned) const {
  std::vector<RecoveryPoint> points;
  RetentionPolicy policy;
  {
    std::shared_lock l(mu_);
    points = manifest_.points;
    policy = manifest_.retention;
  }
  PinMap pins = Pins();
  auto pinned = [&](const RecoveryPoint& p) {
    for (const auto& [name, seq] : pins)
      if (seq == p.seq) return true;
    return false;
  };
  int64_t keep_all_from = now - policy.keep_all_seconds * kNanosPerSecond;
  int64_t window_from = now - policy.window_seconds * kNanosPerSecond;
  int64_t bucket_ns = policy.keep_one_per_seconds * kNanosPerSecond;
  // Older than the keep-all span: the newest point of each kind per bucket survives (so
  // every member of a consistency group keeps the same group points), and user points.
  std::map<std::pair<int64_t, int>, uint64_t> newest;  // (bucket, kind) -> point id
  for (const auto& p : points) {
    if (p.time_unix_ns >= keep_all_from || p.kind == PointKind::kUser) continue;
    auto key = std::make_pair(p.time_unix_ns / bucket_ns, int(p.kind));
    newest[key] = p.id;  // points are in seq order, so the last one seen is the newest
  }
  std::vector<RecoveryPoint> kept;
  for (auto& p : points) {
    if (pinned(p)) {  // an export uses it: neither expired nor thinned while pinned
      kept.push_back(std::move(p));
      continue;
    }
    if (p.time_unix_ns < window_from) {
      ++*expired;
      continue;
    }
    bool keep = p.time_unix_ns >= keep_all_from || p.kind == PointKind::kUser ||
                newest[{p.time_unix_ns / bucket_ns, int(p.kind)}] == p.id;
    if (keep) kept.push_back(std::move(p));
    else ++*thinned;
  }
  return kept;
}

Result<RetentionReport> DiskReplica::ApplyRetention(int64_t now) {
  std::unique_lock b(base_mu_);
  RetentionPolicy policy;
  {
    std::shared_lock l(mu_);
    policy = manifest_.retention;
  }
  // 1. Fold: the base becomes the disk as it was at the start of the window.
  RetentionReport report;
  int64_t window_from = now - policy.window_seconds * kNanosPerSecond;
  auto fold_seq = SeqAtOrBefore(window_from);
  if (fold_seq.ok() && *fold_seq > folded_seq()) {
    LL_ASSIGN_OR_RETURN(report, FoldToLocked(*fold_seq));
  }
  // 2. Thin the listed points.
  uint64_t expired = 0, thinned = 0;
  auto kept = ThinPoints(now, &expired, &thinned);
  if (expired + thinned > 0) {
    std::lock_guard m(manifest_mu_);
    Manifest next;
    {
      std::shared_lock l(mu_);
      next = manifest_;
    }
    next.points = kept;
    LL_RETURN_IF_ERROR(CommitManifestLocked(std::move(next)));
  }
  report.points_expired += expired;
  report.points_thinned = thinned;
  // 3. Compact the journal older than the keep-all span down to the kept points.
  int64_t keep_all_from = now - policy.keep_all_seconds * kNanosPerSecond;
  auto cutoff = SeqAtOrBefore(keep_all_from - 1);
  if (cutoff.ok() && *cutoff > folded_seq()) LL_RETURN_IF_ERROR(CompactLocked(*cutoff, &report));
  report.folded_to_seq = folded_seq();
  return report;
}

Status DiskReplica::CompactLocked(uint64_t cutoff, RetentionReport* report) {
  // Which records can go: within each span between kept boundaries (kept points at or
  // below the cutoff, and the cutoff itself, after which every seq stays a point), a record
  // that later records of the same span cover completely is never read again.
  std::vector<RecordMeta> snapshot;
  std::vector<uint64_t> boundaries;
  {
    std::shared_lock l(mu_);
    for (const auto& p : manifest_.points)
      if (p.seq <= cutoff && p.seq > manifest_.folded_seq) boundaries.push_back(p.seq);
    // A pinned seq is a boundary too: the records its view needs stay.
    std::lock_guard pl(pins_mu_);
    for (const auto& [name, seq] : pins_)
      if (seq <= cutoff && seq > manifest_.folded_seq) boundaries.push_back(seq);
    size_t end = LowerBoundSeqLocked(cutoff + 1);
    snapshot.assign(records_.begin(), records_.begin() + long(end));
  }
  boundaries.push_back(cutoff);
  std::sort(boundaries.begin(), boundaries.end());
  boundaries.erase(std::unique(boundaries.begin(), boundaries.end()), boundaries.end());
  std::set<uint64_t> dropped;
  size_t i = snapshot.size();
  for (auto bit = boundaries.rbegin(); bit != boundaries.rend(); ++bit) {
    uint64_t lower = std::next(bit) == boundaries.rend() ? 0 : *std::next(bit);
    RangeMap<bool> covered;
    while (i > 0 && snapshot[i - 1].seq > *bit) --i;  // belongs to a later span
    while (i > 0 && snapshot[i - 1].seq > lower) {
      const RecordMeta& r = snapshot[--i];
      if (covered.Covers(r.offset, r.end())) dropped.insert(r.seq);
      else covered.Assign(r.offset, r.end(), true);
    }
  }
  if (dropped.empty()) return Status::Ok();
  // Rewrite each sealed segment that holds a dropped record.
  std::map<const Segment*, std::shared_ptr<Segment>> old_segments;
  std::vector<RecordMeta> in_old;  // every record of those segments, also above the cutoff
  {
    std::shared_lock l(mu_);
    for (const auto& r : snapshot)
      if (dropped.count(r.seq) && r.segment != active_) old_segments[r.segment.get()] = r.segment;
    for (const auto& r : records_)
      if (old_segments.count(r.segment.get())) in_old.push_back(r);
  }
  if (old_segments.empty()) return Status::Ok();
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  std::map<const Segment*, std::shared_ptr<Segment>> replacement;
  std::map<uint64_t, RecordMeta> moved;  // seq -> new location
  std::string raw;
  for (const auto& [key, old_seg] : old_segments) {
    SegmentInfo info{next.next_segment_number++};
    LL_ASSIGN_OR_RETURN(auto created, Segment::Create(fs_, JoinPath(dir_, info.file_name()), info.number,
                                                      clock_->NowUnixNanos()));
    std::shared_ptr<Segment> seg = std::move(created);
    for (const auto& r : in_old) {
      if (r.segment.get() != key || dropped.count(r.seq)) continue;
      LL_RETURN_IF_ERROR(old_seg->ReadRaw(r.payload_offset - kRecordHeaderSize,
                                          kRecordHeaderSize + r.payload_size, &raw));
      uint64_t at = 0;
      LL_RETURN_IF_ERROR(seg->AppendRaw(raw, &at));
      RecordMeta nm = r;
      nm.segment = seg;
      nm.payload_offset = at + kRecordHeaderSize;
      moved[r.seq] = nm;
    }
    LL_RETURN_IF_ERROR(seg->Sync());
    replacement[key] = seg;
    for (auto& s : next.segments)
      if (s.number == old_seg->number()) s = info;
  }
  LL_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  LL_RETURN_IF_ERROR(CommitManifestLocked(next));
  {
    std::unique_lock l(mu_);
    std::deque<RecordMeta> records;
    for (auto& r : records_) {
      if (dropped.count(r.seq) && replacement.count(r.segment.get())) {
        ++report->records_compacted;
        continue;
      }
      auto mv = moved.find(r.seq);
      records.push_back(mv != moved.end() && replacement.count(r.segment.get()) ? mv->second : std::move(r));
    }
    records_.swap(records);
    RebuildIndexLocked();
    for (auto& s : sealed_)
      if (replacement.count(s.get())) s = replacement[s.get()];
  }
  for (const auto& [key, old_seg] : old_segments) {
    report->bytes_reclaimed += old_seg->size() - replacement[key]->size();
    Status st = fs_->Remove(old_seg->path());
    if (!st.ok()) log::Warn(kLog, "could not remove compacted segment (removed at next open): " + st.message());
  }
  return Status::Ok();
}

}  // namespace lifeline::store
