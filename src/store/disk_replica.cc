// DiskReplica: creation, crash recovery on open, appends with group commit, points, info.
// Reads are in replica_read.cc, retention in replica_retention.cc, scrub in replica_scrub.cc.
#include "store/disk_replica.h"

#include <algorithm>
#include <set>

#include "common/checksum.h"
#include "common/log.h"
#include "store/segment.h"

namespace lifeline::store {

namespace {
constexpr char kLockFileName[] = "LOCK";
constexpr char kLog[] = "store";
}  // namespace

DiskReplica::DiskReplica(std::string dir, DiskOptions options)
    : dir_(std::move(dir)),
      options_(options),
      fs_(options.fs ? options.fs : FileSystem::Posix()),
      clock_(options.clock ? options.clock : Clock::System()) {}

DiskReplica::~DiskReplica() = default;

Result<std::unique_ptr<DiskReplica>> DiskReplica::Create(const std::string& dir,
                                                         const std::string& disk_id,
                                                         uint64_t size_bytes,
                                                         const RetentionPolicy& retention,
                                                         DiskOptions options) {
  if (disk_id.empty() || disk_id.size() > 128 ||
      disk_id.find_first_of("/\\\n\r\t ") != std::string::npos)
    return Status::InvalidArgument("disk id '" + disk_id +
                                   "' must be 1-128 characters without slashes or spaces");
  if (size_bytes == 0 || size_bytes % 512 != 0)
    return Status::InvalidArgument("disk size " + std::to_string(size_bytes) +
                                   " must be a positive multiple of 512 bytes");
  if (retention.window_seconds <= 0 || retention.keep_all_seconds < 0 ||
      retention.keep_one_per_seconds <= 0)
    return Status::InvalidArgument("retention window and bucket must be positive");
  std::unique_ptr<DiskReplica> d(new DiskReplica(dir, options));
  LL_RETURN_IF_ERROR(d->fs_->MakeDirs(dir));
  LL_ASSIGN_OR_RETURN(d->lock_, d->fs_->Lock(JoinPath(dir, kLockFileName)));
  if (d->fs_->Exists(JoinPath(dir, kManifestFileName)))
    return Status::InvalidArgument(dir + " already holds a replica");
  LL_ASSIGN_OR_RETURN(d->base_, d->fs_->Open(JoinPath(dir, kBaseFileName), OpenMode::kTruncate));
  LL_RETURN_IF_ERROR(d->base_->Truncate(size_bytes));
  LL_RETURN_IF_ERROR(d->base_->Sync());
  Manifest m;
  m.disk_id = disk_id;
  m.size_bytes = size_bytes;
  m.created_unix_ns = d->clock_->NowUnixNanos();
  m.folded_time_unix_ns = m.created_unix_ns;
  m.retention = retention;
  m.next_segment_number = 1;
  d->disk_id_ = disk_id;
  d->size_bytes_ = size_bytes;
  d->manifest_ = m;
  std::lock_guard a(d->append_mu_);
  LL_RETURN_IF_ERROR(d->RollSegmentLocked());
  return d;
}

Result<std::unique_ptr<DiskReplica>> DiskReplica::Open(const std::string& dir, DiskOptions options) {
  std::unique_ptr<DiskReplica> d(new DiskReplica(dir, options));
  if (!options.read_only) {
    LL_ASSIGN_OR_RETURN(d->lock_, d->fs_->Lock(JoinPath(dir, kLockFileName)));
  }
  if (!d->fs_->Exists(JoinPath(dir, kManifestFileName)))
    return Status::NotFound(dir + " holds no replica (no MANIFEST)");
  LL_ASSIGN_OR_RETURN(d->manifest_, ReadManifest(d->fs_, dir));
  d->disk_id_ = d->manifest_.disk_id;
  d->size_bytes_ = d->manifest_.size_bytes;
  LL_ASSIGN_OR_RETURN(d->base_, d->fs_->Open(JoinPath(dir, kBaseFileName),
                                             options.read_only ? OpenMode::kRead : OpenMode::kReadWrite));
  if (options.read_only) d->read_only_reason_ = "opened read-only";
  std::string marker = JoinPath(dir, kScrubMarkerFileName);
  if (d->fs_->Exists(marker)) {
    auto text = ReadWholeFile(d->fs_, marker, 1 << 20);
    d->read_only_reason_ = "the last scrub found corruption (" + marker +
                           "); the replica is read-only until `lifeline store verify` passes";
    log::Warn(kLog, d->read_only_reason_);
  }
  LL_RETURN_IF_ERROR(d->Recover());
  return d;
}

Status DiskReplica::Recover() {
  bool writable = !options_.read_only;
  if (writable) {
    // Files no manifest names are leftovers of an interrupted roll, compaction or write.
    std::set<std::string> known = {kManifestFileName, kBaseFileName, kLockFileName,
                                   kScrubMarkerFileName, kPinsFileName};
    for (const auto& s : manifest_.segments) known.insert(s.file_name());
    LL_ASSIGN_OR_RETURN(auto names, fs_->List(dir_));
    for (const auto& n : names) {
      if (known.count(n)) continue;
      if (n.starts_with("journal-") || n.ends_with(".tmp")) {
        log::Info(kLog, "removing leftover file " + JoinPath(dir_, n));
        LL_RETURN_IF_ERROR(fs_->Remove(JoinPath(dir_, n)));
      }
    }
  }
  LL_RETURN_IF_ERROR(LoadSegments());
  durable_seq_ = appended_seq_;
  if (writable && manifest_.fold_target_seq > manifest_.folded_seq && read_only_reason_.empty()) {
    log::Info(kLog, "finishing an interrupted fold to seq " + std::to_string(manifest_.fold_target_seq));
    std::unique_lock b(base_mu_);
    LL_ASSIGN_OR_RETURN(auto report, FoldToLocked(manifest_.fold_target_seq));
    (void)report;
  }
  // Pins load after the interrupted fold is finished: that fold must reach its recorded
  // target (its records may already be in the base), and no pin can be older than it.
  LL_RETURN_IF_ERROR(LoadPins());
  if (writable && !active_ && read_only_reason_.empty()) {
    std::lock_guard a(append_mu_);
    LL_RETURN_IF_ERROR(RollSegmentLocked());
  }
  return Status::Ok();
}

Status DiskReplica::LoadSegments() {
  uint64_t last_seq = manifest_.folded_seq;
  bool writable = !options_.read_only;
  for (size_t i = 0; i < manifest_.segments.size(); ++i) {
    bool is_last = i + 1 == manifest_.segments.size();
    std::string path = JoinPath(dir_, manifest_.segments[i].file_name());
    auto opened = Segment::Open(fs_, path, writable && is_last);
    if (!opened.ok()) {
      read_only_reason_ = opened.status().message();
      log::Error(kLog, "journal segment unreadable, replica is read-only: " + read_only_reason_);
      return Status::Ok();
    }
    std::shared_ptr<Segment> seg = std::move(opened).value();
    // The active segment's payloads are verified so a torn tail is found and cut; a
    // read-only open cuts nothing, and every read verifies the payloads it uses anyway.
    auto result = seg->Scan(/*verify_payloads=*/is_last && writable, [&](const ScannedRecord& r) {
      if (r.header.seq <= last_seq) {
        // At or below the folded seq: already in the base. Otherwise: out of order.
        if (r.header.seq <= manifest_.folded_seq) return Status::Ok();
        return Status::Corruption(seg->path() + " offset " + std::to_string(r.record_offset) +
                                  ": seq " + std::to_string(r.header.seq) +
                                  " is not above the previous seq " + std::to_string(last_seq));
      }
      if (r.header.offset + r.header.length > size_bytes_ || r.header.offset + r.header.length < r.header.offset)
        return Status::Corruption(seg->path() + " offset " + std::to_string(r.record_offset) +
                                  ": record reaches past the end of the disk");
      RecordMeta meta{r.header.seq, r.header.offset, r.header.length, r.header.payload_size,
                      r.header.time_unix_ns, r.header.data_hash, r.header.payload_checksum,
                      r.payload_offset, r.header.kind, r.header.codec, seg};
      IndexRecordLocked(std::move(meta));
      last_seq = r.header.seq;
      return Status::Ok();
    });
    if (!result.ok()) {
      read_only_reason_ = result.status().message();
      log::Error(kLog, "journal damaged, replica is read-only: " + read_only_reason_);
      sealed_.push_back(seg);  // kept so that a scrub checks it and names the affected points
      return Status::Ok();
    }
    if (result->tail_damaged) {
      // A recorded point above the last valid record proves the damaged record was durable
      // (points are recorded only at durable seqs): that is corruption, never a torn write.
      bool point_above = !manifest_.points.empty() && manifest_.points.back().seq > last_seq;
      if (!is_last || result->later_record_found || point_above) {
        sealed_.push_back(seg);  // read-only from here; a scrub checks it
        read_only_reason_ += std::string(read_only_reason_.empty() ? "" : "; ") + "journal damaged: " + result->damage +
                            (point_above && !result->later_record_found
                                 ? " (a recovery point lies above it, so it was durable: not a torn write); run "
                                 : " (valid records follow it, so this is not a torn write); run ") +
                            "`lifeline store verify` for the affected points";
        log::Error(kLog, read_only_reason_);
        return Status::Ok();
      }
      // A torn tail: the crash hit an append that was never acknowledged (never fsynced).
      log::Warn(kLog, "truncating torn journal tail: " + result->damage + " (" +
                          std::to_string(result->file_size - result->valid_end) + " bytes)");
      if (writable) LL_RETURN_IF_ERROR(seg->TruncateTo(result->valid_end));
    }
    if (is_last && writable) active_ = seg;
    else sealed_.push_back(seg);
  }
  appended_seq_ = last_seq;
  return Status::Ok();
}

void DiskReplica::IndexRecordLocked(RecordMeta meta) {
  uint64_t id = first_id_ + records_.size();
  uint64_t first_chunk = meta.offset / kIndexChunkBytes;
  uint64_t last_chunk = (meta.end() - 1) / kIndexChunkBytes;
  records_.push_back(std::move(meta));
  for (uint64_t c = first_chunk; c <= last_chunk; ++c) chunks_[c].push_back(id);
}

void DiskReplica::RebuildIndexLocked() {
  std::deque<RecordMeta> records;
  records.swap(records_);
  chunks_.clear();
  first_id_ = 0;
  for (auto& r : records) IndexRecordLocked(std::move(r));
}

Status DiskReplica::CommitManifestLocked(Manifest next) {
  LL_RETURN_IF_ERROR(WriteManifest(fs_, dir_, next));
  std::unique_lock l(mu_);
  manifest_ = std::move(next);
  return Status::Ok();
}

Status DiskReplica::SetReadOnly(std::string reason) {
  std::unique_lock l(mu_);
  if (read_only_reason_.empty()) read_only_reason_ = reason;
  log::Error(kLog, disk_id_ + ": replica is now read-only: " + reason);
  return Status::Ok();
}

std::string DiskReplica::read_only_reason() const {
  std::shared_lock l(mu_);
  return read_only_reason_;
}

Status DiskReplica::RollSegmentLocked() {
  if (active_) {
    // Seal: everything in the old segment becomes durable before a new one starts, so the
    // durable prefix never spans an unsynced gap.
    Status s = active_->Sync();
    if (!s.ok()) {
      (void)SetReadOnly("fsync failed: " + s.message());
      return s;
    }
    uint64_t appended = appended_seq();
    if (durable_seq_.load() < appended) durable_seq_ = appended;
  }
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  SegmentInfo info{next.next_segment_number++};
  std::string path = JoinPath(dir_, info.file_name());
  LL_ASSIGN_OR_RETURN(auto created, Segment::Create(fs_, path, info.number, clock_->NowUnixNanos()));
  std::shared_ptr<Segment> seg = std::move(created);
  next.segments.push_back(info);
  // The manifest names the segment before any record goes in, so no durable record can live
  // in a file that recovery would treat as a leftover.
  Status s = CommitManifestLocked(std::move(next));
  if (!s.ok()) {
    (void)fs_->Remove(path);
    return s;
  }
  std::unique_lock l(mu_);
  if (active_) sealed_.push_back(active_);
  active_ = seg;
  return Status::Ok();
}

uint64_t DiskReplica::appended_seq() const {
  std::shared_lock l(mu_);
  return appended_seq_;
}

uint64_t DiskReplica::folded_seq() const {
  std::shared_lock l(mu_);
  return manifest_.folded_seq;
}

Status DiskReplica::Append(const WriteRecord& w) {
  std::lock_guard a(append_mu_);
  uint64_t last;
  {
    std::shared_lock l(mu_);
    if (!read_only_reason_.empty())
      return Status::FailedPrecondition("replica " + disk_id_ + " is read-only: " + read_only_reason_);
    last = appended_seq_;
  }
  if (w.seq <= last) return Status::Ok();  // replay of a stored record (invariant 4)
  if (w.seq != last + 1)
    return Status::InvalidArgument("disk " + disk_id_ + ": seq " + std::to_string(w.seq) +
                                   " leaves a gap; the next seq is " + std::to_string(last + 1));
  if (w.length == 0 || w.length > kMaxRecordBytes)
    return Status::InvalidArgument("record length " + std::to_string(w.length) + " out of range (1.." +
                                   std::to_string(kMaxRecordBytes) + ")");
  if (w.offset > size_bytes_ || w.length > size_bytes_ - w.offset)
    return Status::InvalidArgument("write at offset " + std::to_string(w.offset) + " length " +
                                   std::to_string(w.length) + " is outside the disk (" +
                                   std::to_string(size_bytes_) + " bytes)");
  RecordHeader h;
  h.kind = w.kind;
  h.codec = uint8_t(w.codec);
  h.seq = w.seq;
  h.offset = w.offset;
  h.length = w.length;
  h.time_unix_ns = w.time_unix_ns ? w.time_unix_ns : clock_->NowUnixNanos();
  if (w.kind == RecordKind::kData) {
    if (w.payload.empty() || w.payload.size() > kMaxRecordBytes)
      return Status::InvalidArgument("data record without a payload or with an oversized one");
    if (w.codec == Codec::kNone) {
      if (w.payload.size() != w.length)
        return Status::InvalidArgument("raw payload is " + std::to_string(w.payload.size()) +
                                       " bytes for a record of " + std::to_string(w.length));
      h.data_hash = Xxh3(w.payload);
    } else {
      // Check data twice: a compressed payload must decode to the announced length and hash.
      std::string raw(w.length, '\0');
      LL_RETURN_IF_ERROR(Decompress(w.codec, w.payload, raw.data(), raw.size()));
      h.data_hash = Xxh3(raw);
    }
    if (w.data_hash != 0 && w.data_hash != h.data_hash)
      return Status::Corruption("seq " + std::to_string(w.seq) + ": data does not match the sender's hash");
    // Raw payloads: the payload checksum is the data hash, computed once.
    h.payload_checksum = w.codec == Codec::kNone ? h.data_hash : Xxh3(w.payload);
  } else {
    if (w.kind != RecordKind::kZero && w.kind != RecordKind::kTrim)
      return Status::InvalidArgument("unknown record kind");
    if (!w.payload.empty()) return Status::InvalidArgument("zero/trim record with a payload");
    h.codec = 0;
    h.payload_checksum = Xxh3("", 0);
  }
  if (active_->size() >= options_.segment_target_bytes) LL_RETURN_IF_ERROR(RollSegmentLocked());
  uint64_t payload_offset = 0;
  LL_RETURN_IF_ERROR(active_->Append(h, w.payload, &payload_offset));
  RecordMeta meta{h.seq, h.offset, h.length, uint32_t(w.payload.size()), h.time_unix_ns,
                  h.data_hash, h.payload_checksum, payload_offset, h.kind, h.codec, active_};
  std::unique_lock l(mu_);
  IndexRecordLocked(std::move(meta));
  appended_seq_ = h.seq;
  return Status::Ok();
}

Result<uint64_t> DiskReplica::Sync() {
  std::lock_guard s(sync_mu_);
  std::shared_ptr<Segment> seg;
  uint64_t target;
  {
    std::shared_lock l(mu_);
    if (!read_only_reason_.empty() && !options_.read_only)
      return Status::FailedPrecondition("replica " + disk_id_ + " is read-only: " + read_only_reason_);
    target = appended_seq_;
    seg = active_;
  }
  if (durable_seq_.load() >= target || !seg) return durable_seq_.load();
  Status st = seg->Sync();
  if (!st.ok()) {
    // After a failed fsync the page cache may have dropped the data: never retry and claim it.
    (void)SetReadOnly("fsync failed: " + st.message() + "; reopen the replica to recover");
    return st;
  }
  // Invariant 1: the durable seq only moves after the fsync covering it returned.
  uint64_t cur = durable_seq_.load();
  while (cur < target && !durable_seq_.compare_exchange_weak(cur, target)) {
  }
  return durable_seq_.load();
}

size_t DiskReplica::LowerBoundSeqLocked(uint64_t seq) const {
  auto it = std::lower_bound(records_.begin(), records_.end(), seq,
                             [](const RecordMeta& r, uint64_t s) { return r.seq < s; });
  return size_t(it - records_.begin());
}

Result<int64_t> DiskReplica::TimeOfSeq(uint64_t seq) const {
  std::shared_lock l(mu_);
  if (seq <= manifest_.folded_seq) {
    if (seq == manifest_.folded_seq) return manifest_.folded_time_unix_ns;
    return Status::NotFound("seq " + std::to_string(seq) + " is older than the retention window");
  }
  size_t i = LowerBoundSeqLocked(seq + 1);
  if (i == 0) return manifest_.folded_time_unix_ns;
  return records_[i - 1].time_unix_ns;
}

Result<uint64_t> DiskReplica::SeqAtOrBefore(int64_t time_unix_ns) const {
  std::shared_lock l(mu_);
  // Source times are non-decreasing in seq order (the agent's clock is made monotonic).
  auto it = std::upper_bound(records_.begin(), records_.end(), time_unix_ns,
                             [](int64_t t, const RecordMeta& r) { return t < r.time_unix_ns; });
  size_t i = size_t(it - records_.begin());
  uint64_t limit = durable_seq_.load();
  while (i > 0 && records_[i - 1].seq > limit) --i;
  if (i > 0) return records_[i - 1].seq;
  if (manifest_.folded_time_unix_ns <= time_unix_ns) return manifest_.folded_seq;
  return Status::NotFound("no point at or before that time: the oldest readable state is from " +
                          std::to_string(manifest_.folded_time_unix_ns / kNanosPerSecond) + " (unix s)");
}

Result<RecoveryPoint> DiskReplica::AddPoint(const PointRequest& req) {
  std::lock_guard m(manifest_mu_);
  Manifest next;
  uint64_t seq;
  {
    std::shared_lock l(mu_);
    if (!read_only_reason_.empty())
      return Status::FailedPrecondition("replica " + disk_id_ + " is read-only: " + read_only_reason_);
    next = manifest_;
  }
  seq = req.seq ? req.seq : durable_seq_.load();
  if (seq > durable_seq_.load())
    return Status::InvalidArgument("point seq " + std::to_string(seq) + " is not durable yet (durable seq " +
                                   std::to_string(durable_seq_.load()) + ")");
  if (seq < next.folded_seq)
    return Status::InvalidArgument("point seq " + std::to_string(seq) + " is older than the retention window");
  RecoveryPoint p;
  p.id = next.next_point_id++;
  p.seq = seq;
  if (req.time_unix_ns) {
    p.time_unix_ns = req.time_unix_ns;
  } else {
    LL_ASSIGN_OR_RETURN(p.time_unix_ns, TimeOfSeq(seq));
  }
  p.kind = req.kind;
  p.label = req.label;
  p.group_id = req.group_id;
  p.group_point_id = req.group_point_id;
  p.group_members = req.group_members;
  auto pos = std::upper_bound(next.points.begin(), next.points.end(), p.seq,
                              [](uint64_t s, const RecoveryPoint& x) { return s < x.seq; });
  next.points.insert(pos, p);
  LL_RETURN_IF_ERROR(CommitManifestLocked(std::move(next)));
  return p;
}

std::vector<RecoveryPoint> DiskReplica::Points() const {
  std::shared_lock l(mu_);
  return manifest_.points;
}

Result<RecoveryPoint> DiskReplica::FindPoint(uint64_t id) const {
  std::shared_lock l(mu_);
  for (const auto& p : manifest_.points)
    if (p.id == id) return p;
  return Status::NotFound("disk " + disk_id_ + " has no recovery point " + std::to_string(id));
}

Result<RecoveryPoint> DiskReplica::PointAtOrBefore(int64_t time_unix_ns, std::optional<PointKind> kind) const {
  std::shared_lock l(mu_);
  const RecoveryPoint* best = nullptr;
  for (const auto& p : manifest_.points) {
    if (p.time_unix_ns > time_unix_ns || (kind && p.kind != *kind)) continue;
    if (!best || p.time_unix_ns >= best->time_unix_ns) best = &p;
  }
  if (!best) return Status::NotFound("disk " + disk_id_ + " has no recovery point at or before that time");
  return *best;
}

Status DiskReplica::TagPoint(uint64_t id, const std::string& tag) {
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  for (auto& p : next.points) {
    if (p.id != id) continue;
    if (std::find(p.tags.begin(), p.tags.end(), tag) == p.tags.end()) p.tags.push_back(tag);
    return CommitManifestLocked(std::move(next));
  }
  return Status::NotFound("disk " + disk_id_ + " has no recovery point " + std::to_string(id));
}

Status DiskReplica::RemovePoints(const std::vector<uint64_t>& ids) {
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  std::erase_if(next.points, [&](const RecoveryPoint& p) {
    return std::find(ids.begin(), ids.end(), p.id) != ids.end();
  });
  return CommitManifestLocked(std::move(next));
}

Status DiskReplica::SetRetention(const RetentionPolicy& policy) {
  if (policy.window_seconds <= 0 || policy.keep_all_seconds < 0 || policy.keep_one_per_seconds <= 0)
    return Status::InvalidArgument("retention window and bucket must be positive");
  std::lock_guard m(manifest_mu_);
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  next.retention = policy;
  return CommitManifestLocked(std::move(next));
}

Status DiskReplica::Grow(uint64_t new_size) {
  std::unique_lock b(base_mu_);  // lock order: base, append, manifest
  std::lock_guard a(append_mu_);
  std::lock_guard m(manifest_mu_);
  {
    std::shared_lock l(mu_);
    if (!read_only_reason_.empty())
      return Status::FailedPrecondition("replica " + disk_id_ + " is read-only: " + read_only_reason_);
  }
  const uint64_t old_size = size_bytes_;
  if (new_size < old_size) {
    return Status::FailedPrecondition("disk " + disk_id_ + " shrank from " + std::to_string(old_size) + " to " +
                                      std::to_string(new_size) +
                                      " bytes: a replica never shrinks (its points would lose data); "
                                      "re-protect the disk to start a new replica");
  }
  if (new_size == old_size) return Status::Ok();
  if (new_size % 512 != 0)
    return Status::InvalidArgument("disk size " + std::to_string(new_size) + " is not a multiple of 512 bytes");
  LL_RETURN_IF_ERROR(base_->Truncate(new_size));
  LL_RETURN_IF_ERROR(base_->Sync());
  Manifest next;
  {
    std::shared_lock l(mu_);
    next = manifest_;
  }
  next.size_bytes = new_size;
  LL_RETURN_IF_ERROR(CommitManifestLocked(std::move(next)));
  size_bytes_ = new_size;
  log::Info(kLog, disk_id_ + ": grew from " + std::to_string(old_size) + " to " + std::to_string(new_size) + " bytes");
  return Status::Ok();
}

DiskInfo DiskReplica::Info() const {
  DiskInfo info;
  std::vector<std::shared_ptr<Segment>> segs;
  {
    std::shared_lock l(mu_);
    info.disk_id = disk_id_;
    info.dir = dir_;
    info.size_bytes = size_bytes_;
    info.folded_seq = manifest_.folded_seq;
    info.folded_time_unix_ns = manifest_.folded_time_unix_ns;
    info.appended_seq = appended_seq_;
    info.newest_time_unix_ns = records_.empty() ? manifest_.folded_time_unix_ns : records_.back().time_unix_ns;
    info.journal_records = records_.size();
    info.points = manifest_.points.size();
    info.read_only_reason = read_only_reason_;
    info.retention = manifest_.retention;
    segs = sealed_;
    if (active_) segs.push_back(active_);
  }
  info.durable_seq = durable_seq_.load();
  info.segments = segs.size();
  for (const auto& s : segs) info.journal_bytes += s->size();
  for (uint64_t pos = 0; pos < size_bytes_;) {
    auto next = base_->NextData(pos);
    if (!next.ok() || next->first >= size_bytes_) break;
    info.base_allocated_bytes += next->second - next->first;
    pos = next->second;
  }
  return info;
}

}  // namespace lifeline::store
