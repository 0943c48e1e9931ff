// CaptureQueue and CaptureBackend: numbering completed writes and bounding what waits for
// the link (memory, spill file, dirty bitmap). See capture_backend.h.
#include "agent/capture_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "agent/dirty_bitmap.h"
#include "common/bytes.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/log.h"

namespace lifeline::agent {

namespace {
constexpr char kLog[] = "capture";
constexpr uint64_t kRecordOverheadBytes = 128;  // bookkeeping per queued record

// Monotonic source times: point lookup by time relies on times that never go back.
int64_t SourceTime() {
  static std::atomic<int64_t> last{0};
  int64_t now = Clock::System()->NowUnixNanos();
  int64_t prev = last.load();
  while (true) {
    int64_t t = std::max(now, prev);
    if (last.compare_exchange_weak(prev, t)) return t;
  }
}
int64_t MonoNow() { return Clock::System()->MonotonicNanos(); }
}  // namespace

// Recycles the strings that carry write data. A fresh buffer of 128 KiB or more comes from
// mmap and faults on every page when first written, which costs more than the copy itself;
// reusing them keeps large writes at full speed. Bounded: at most kMaxCachedBytes idle.
class CaptureQueue::DataPool : public std::enable_shared_from_this<CaptureQueue::DataPool> {
 public:
  std::shared_ptr<const std::string> Make(const uint8_t* p, size_t n) {
    std::string* s = nullptr;
    int c = Class(n);
    if (c < kClasses) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_[c].empty()) {
        s = free_[c].back();
        free_[c].pop_back();
        cached_bytes_ -= s->capacity();
      }
    }
    if (!s) {
      s = new std::string();
      if (c < kClasses) s->reserve(size_t(kMinBytes) << c);
    }
    s->assign(reinterpret_cast<const char*>(p), n);
    auto self = shared_from_this();
    return std::shared_ptr<const std::string>(s, [self](const std::string* q) { self->Put(const_cast<std::string*>(q)); });
  }

 private:
  static constexpr size_t kMinBytes = 4096;
  static constexpr int kClasses = 12;  // 4 KiB .. 8 MiB
  static constexpr size_t kMaxCachedBytes = 128u << 20;
  static int Class(size_t n) {
    int c = 0;
    while (c < kClasses && (kMinBytes << c) < n) ++c;
    return c;
  }
  void Put(std::string* s) {
    int c = Class(s->capacity());
    if (c < kClasses && (kMinBytes << c) == s->capacity()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_bytes_ + s->capacity() <= kMaxCachedBytes) {
        cached_bytes_ += s->capacity();
        free_[c].push_back(s);
        return;
      }
    }
    delete s;
  }
  std::mutex mu_;
  std::vector<std::string*> free_[kClasses];
  size_t cached_bytes_ = 0;

 public:
  ~DataPool() {
    for (auto& v : free_)
      for (auto* s : v) delete s;
  }
};

const char* CaptureStateName(CaptureState s) {
  switch (s) {
    case CaptureState::kStreaming: return "streaming";
    case CaptureState::kSpilling: return "spilling";
    case CaptureState::kBitmap: return "bitmap";
    case CaptureState::kResync: return "resync";
  }
  return "unknown";
}

CaptureQueue::CaptureQueue(CaptureQueueOptions options, uint64_t disk_bytes, uint64_t first_seq)
    : pool_(std::make_shared<DataPool>()),
      options_(std::move(options)),
      disk_bytes_(disk_bytes),
      block_count_((disk_bytes + options_.block_bytes - 1) / options_.block_bytes),
      dirty_(block_count_, 0),
      next_seq_(first_seq),
      acked_seq_(first_seq - 1) {}

CaptureQueue::~CaptureQueue() { Close(); }

std::string CaptureQueue::BitmapPath() const { return options_.state_dir + "/dirty.bitmap"; }

// The bitmap file (dirty_bitmap.h) is replaced atomically (tmp, fsync, rename). A damaged
// bitmap or spill file cannot say which blocks the vault lacks: the whole disk is resynced
// (never a crash, never a silent loss), the damaged file is kept as *.corrupt and the reason
// is reported.
Status CaptureQueue::Open() {
  if (options_.state_dir.empty()) return Status::Ok();
  FileSystem* fs = FileSystem::Posix();
  LL_RETURN_IF_ERROR(fs->MakeDirs(options_.state_dir));
  auto damaged = [&](const std::string& path, const Status& why) -> Status {
    std::string msg = why.ToString() + "; resyncing the whole disk";
    log::Error(kLog, path + ": " + msg);
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_warning_.empty()) open_warning_ += "; ";
    open_warning_ += path + ": " + msg;
    MarkDirtyLocked(0, disk_bytes_);
    return fs->Rename(path, path + ".corrupt");
  };
  if (fs->Exists(BitmapPath())) {
    LL_ASSIGN_OR_RETURN(std::string raw, ReadWholeFile(fs, BitmapPath(), kDirtyBitmapHeaderBytes + kMaxDirtyBlocks + 8));
    auto bitmap = DecodeDirtyBitmap(ByteSpan(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
    if (!bitmap.ok()) {
      LL_RETURN_IF_ERROR(damaged(BitmapPath(), bitmap.status()));
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      loaded_bitmap_ = true;
      // A different granularity (changed policy): mark the byte ranges it covers.
      for (uint64_t b = 0; b < bitmap->bits.size(); ++b)
        if (bitmap->bits[b]) MarkDirtyLocked(b * bitmap->block_bytes, bitmap->block_bytes);
      if (dirty_count_) log::Info(kLog, std::to_string(dirty_count_) + " blocks dirty from before a restart: resync");
    }
  }
  // Records a previous run left in the spill file: their blocks are resynced too (the bitmap
  // covers what was flushed; this also covers writes completed but never flushed).
  std::string spill_path = options_.state_dir + "/spill.dat";
  auto spilled = ScanSpillFile(spill_path, std::max<uint64_t>(options_.max_spill_bytes, 1ull << 40));
  if (!spilled.ok()) {
    if (spilled.status().code() != Code::kCorruption) return spilled.status();
    LL_RETURN_IF_ERROR(damaged(spill_path, spilled.status()));
  } else if (!spilled->empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : *spilled) MarkDirtyLocked(r.offset, r.length);
    log::Info(kLog, std::to_string(spilled->size()) + " writes left in the spill file: resync their blocks");
  }
  if (options_.max_spill_bytes > 0) {
    LL_ASSIGN_OR_RETURN(spill_, SpillFile::Create(spill_path, options_.max_spill_bytes));
  } else if (fs->Exists(spill_path)) {
    LL_RETURN_IF_ERROR(fs->Remove(spill_path));
  }
  return Status::Ok();
}

std::string CaptureQueue::open_warning() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_warning_;
}

void CaptureQueue::MarkDirtyLocked(uint64_t offset, uint64_t length) {
  if (length == 0 || offset >= disk_bytes_) return;
  if (dirty_count_ == 0) dirty_since_ns_ = SourceTime();  // lag counts from the first dirty block
  uint64_t end = std::min(disk_bytes_, offset + length);
  for (uint64_t b = offset / options_.block_bytes; b * options_.block_bytes < end; ++b) {
    if (!dirty_[b]) {
      dirty_[b] = 1;
      ++dirty_count_;
    }
  }
}

void CaptureQueue::MarkAllDirty(const std::function<bool(uint64_t, uint64_t)>& is_hole) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t b = 0; b < block_count_; ++b) {
    uint64_t off = b * options_.block_bytes;
    uint64_t len = std::min<uint64_t>(options_.block_bytes, disk_bytes_ - off);
    if (!dirty_[b] && !(is_hole && is_hole(off, len))) {
      dirty_[b] = 1;
      ++dirty_count_;
    }
  }
  resync_cursor_ = 0;
}

void CaptureQueue::MarkDirty(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  MarkDirtyLocked(offset, length);
}

void CaptureQueue::SetComparing(bool comparing) {
  std::lock_guard<std::mutex> lock(mu_);
  comparing_ = comparing;
}

uint64_t CaptureQueue::RecordSizeLocked(const CaptureRecord& r) const {
  return kRecordOverheadBytes + (r.data ? r.data->size() : 0);
}

// Memory first; once a record had to go to the spill, every later one follows it there
// until the spill drains, so the stream stays in seq order.
void CaptureQueue::PushLocked(CaptureRecord r) {
  uint64_t n = RecordSizeLocked(r);
  if (!spilling_ && (memory_bytes_ + n <= options_.max_memory_bytes || memory_.empty())) {
    memory_bytes_ += n;
    memory_.push_back(std::move(r));
  } else {
    spilling_ = true;
    Status s = spill_->Append(r);
    if (!s.ok()) log::Error(kLog, "spill append: " + s.ToString());  // caller checked Fits
  }
  cv_.notify_one();
}

uint64_t CaptureQueue::Record(wire::WriteKind kind, uint64_t offset, uint64_t length, ByteSpan data) {
  auto r = RecordWrite(kind, offset, length, data);
  return r.ok() ? *r : 0;
}

namespace {
Status FencedError() {
  return Status::Unauthenticated(
      "the disk is fenced for a planned failover: writes are refused until the failover is "
      "cancelled");
}
}  // namespace

uint64_t CaptureQueue::Fence() {
  std::unique_lock<std::shared_mutex> gate(fence_gate_);
  std::lock_guard<std::mutex> lock(mu_);
  // With the gate held alone, no change is between its fence check and its record: every
  // change that passed the check is numbered, and none after it can touch the disk.
  fenced_ = true;
  return next_seq_ - 1;
}

void CaptureQueue::Unfence() {
  std::unique_lock<std::shared_mutex> gate(fence_gate_);
  std::lock_guard<std::mutex> lock(mu_);
  fenced_ = false;
}

bool CaptureQueue::fenced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fenced_;
}

Result<uint64_t> CaptureQueue::RecordWrite(wire::WriteKind kind, uint64_t offset, uint64_t length,
                                           ByteSpan data) {
  // The copy of the data is made before taking the ordering lock, so the machine's writes
  // copy in parallel and the lock only numbers them. While the buffers overflow the copy
  // would be dropped: skip it (a stale hint only costs a copy or a resynced block).
  std::shared_ptr<const std::string> copy;
  if (kind == wire::WriteKind::kData && options_.keep_data && !overflow_hint_.load(std::memory_order_relaxed))
    copy = pool_->Make(data.data(), data.size());
  std::unique_lock<std::mutex> lock(mu_);
  while (holding_) {
    int64_t left = hold_deadline_ns_ - MonoNow();
    if (left <= 0) {
      holding_ = false;  // a barrier never holds the VM longer than its deadline
      hold_cv_.notify_all();
      break;
    }
    hold_cv_.wait_for(lock, std::chrono::nanoseconds(left));
  }
  if (fenced_) return FencedError();
  ++stats_.records;
  if (resync_read_length_ && offset < resync_read_offset_ + resync_read_length_ &&
      resync_read_offset_ < offset + length)
    resync_read_raced_ = true;
  if (overflow_) {
    MarkDirtyLocked(offset, length);
    return 0;
  }
  CaptureRecord r;
  r.kind = kind;
  r.offset = offset;
  r.length = length;
  uint64_t piece = kind == wire::WriteKind::kData ? options_.max_data_piece_bytes : options_.max_zero_piece_bytes;
  r.pieces = uint32_t((length + piece - 1) / piece);
  r.time_ns = SourceTime();
  if (kind == wire::WriteKind::kData && options_.keep_data) {
    // The hint said overflow but the buffers have room again: copy here, under the lock
    // (rare; releasing it would let a group hold begin while this write completes).
    if (!copy) copy = pool_->Make(data.data(), data.size());
    r.data = std::move(copy);
  }
  uint64_t n = RecordSizeLocked(r);
  bool to_memory = !spilling_ && (memory_bytes_ + n <= options_.max_memory_bytes || memory_.empty());
  if (!to_memory && !(spill_ && spill_->Fits(r))) {
    // Both buffers full: from here on the write order is lost until a resync.
    overflow_ = true;
    overflow_hint_ = true;
    ++stats_.bitmap_entries;
    log::Warn(kLog, "capture buffers full: tracking writes in the dirty bitmap");
    MarkDirtyLocked(offset, length);
    return 0;
  }
  r.seq = next_seq_;
  next_seq_ += r.pieces;
  unacked_.push_back({r.last_seq(), offset, length, r.time_ns});
  uint64_t last = r.last_seq();
  PushLocked(std::move(r));
  return last;
}

uint64_t CaptureQueue::RecordPoint(wire::PointKind kind, const std::string& label, const std::string& group_id,
                                   int64_t time_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (overflow_ || comparing_ || dirty_count_ > 0 || next_seq_ <= 1) return 0;
  CaptureRecord r;
  r.type = CaptureRecord::Type::kPoint;
  r.seq = next_seq_ - 1;
  r.point_kind = kind;
  r.label = label;
  r.group_id = group_id;
  r.time_ns = time_ns ? time_ns : SourceTime();
  if (spilling_ && !spill_->Fits(r)) return 0;
  uint64_t seq = r.seq;
  PushLocked(std::move(r));
  return seq;
}

bool CaptureQueue::Pop(CaptureRecord* out, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return closed_ || !memory_.empty() || spilling_; });
  if (!memory_.empty()) {
    *out = std::move(memory_.front());
    memory_.pop_front();
    memory_bytes_ -= RecordSizeLocked(*out);
    return true;
  }
  if (spilling_) {
    Status s = spill_->PopFront(out);
    if (spill_->empty()) spilling_ = false;
    if (s.ok()) return true;
    // A damaged spill record: its blocks are lost from the stream; resync everything
    // the spill held (the unacked list still knows their ranges).
    log::Error(kLog, "spill file: " + s.ToString() + "; falling back to a resync");
    overflow_ = true;
    overflow_hint_ = true;
    for (const auto& u : unacked_) MarkDirtyLocked(u.offset, u.length);
    while (!spill_->empty()) {
      CaptureRecord skip;
      if (!spill_->PopFront(&skip).ok()) break;
    }
    spilling_ = false;
  }
  return false;
}

void CaptureQueue::Ack(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  acked_seq_ = std::max(acked_seq_, seq);
  while (!unacked_.empty() && unacked_.front().last_seq <= acked_seq_) unacked_.pop_front();
}

Result<bool> CaptureQueue::ResyncStep(const ReadFn& read, uint32_t max_blocks) {
  std::unique_lock<std::mutex> lock(mu_);
  if (spilling_ || memory_bytes_ > options_.max_memory_bytes / 2) return false;
  if (overflow_) {
    if (!memory_.empty()) return false;
    overflow_ = false;  // everything ordered has been handed on: resync from here
    overflow_hint_ = false;
    log::Info(kLog, "link caught up: resyncing " + std::to_string(dirty_count_) + " dirty blocks");
  }
  if (dirty_count_ == 0) return false;
  uint64_t b = resync_cursor_ % block_count_;
  for (uint64_t i = 0; i < block_count_ && !dirty_[b]; ++i) b = (b + 1) % block_count_;
  uint64_t first = b, count = 0;
  while (b < block_count_ && dirty_[b] && count < max_blocks) {
    ++count;
    ++b;
  }
  uint64_t offset = first * options_.block_bytes;
  uint64_t length = std::min<uint64_t>(count * options_.block_bytes, disk_bytes_ - offset);
  for (uint64_t i = first; i < first + count; ++i) dirty_[i] = 0;
  dirty_count_ -= count;
  resync_cursor_ = first + count;
  // Read without the ordering lock first, so the machine's writes do not wait on this disk
  // read. A write that lands in the range meanwhile may make that read stale (it would
  // reach the replica after the write, with older bytes): then the range is read again
  // under the lock, where no write can complete, as for a hot range under constant writes
  // an optimistic read would never settle.
  resync_read_offset_ = offset;
  resync_read_length_ = length;
  resync_read_raced_ = false;
  auto buf = std::make_shared<std::string>(length, '\0');
  MutableByteSpan out(reinterpret_cast<uint8_t*>(buf->data()), length);
  lock.unlock();
  Status read_status = read(offset, out);
  lock.lock();
  resync_read_length_ = 0;
  if (read_status.ok() && resync_read_raced_ && !spilling_ && !overflow_) read_status = read(offset, out);
  if (!read_status.ok() || spilling_ || overflow_) {
    // Also when the buffers overflowed meanwhile: the record could not keep seq order.
    MarkDirtyLocked(offset, length);
    LL_RETURN_IF_ERROR(read_status);
    return false;
  }
  CaptureRecord r;
  r.kind = wire::WriteKind::kData;
  r.offset = offset;
  r.length = length;
  r.pieces = uint32_t((length + options_.max_data_piece_bytes - 1) / options_.max_data_piece_bytes);
  r.time_ns = SourceTime();
  r.data = std::move(buf);
  stats_.resync_bytes += length;
  r.seq = next_seq_;
  next_seq_ += r.pieces;
  unacked_.push_back({r.last_seq(), offset, length, r.time_ns});
  memory_bytes_ += RecordSizeLocked(r);
  memory_.push_back(std::move(r));
  cv_.notify_one();
  return true;
}

Status CaptureQueue::Persist() {
  if (options_.state_dir.empty()) return Status::Ok();
  std::lock_guard<std::mutex> persist_lock(persist_mu_);
  std::vector<uint8_t> bits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirty_count_ == 0 && unacked_.empty() && persisted_clean_) return Status::Ok();
    bits = dirty_;
    for (const auto& u : unacked_) {
      uint64_t end = std::min(disk_bytes_, u.offset + u.length);
      for (uint64_t b = u.offset / options_.block_bytes; b * options_.block_bytes < end; ++b) bits[b] = 1;
    }
    // A range being read for a resync is neither dirty nor queued yet: it still counts.
    for (uint64_t b = resync_read_offset_ / options_.block_bytes;
         resync_read_length_ && b * options_.block_bytes < resync_read_offset_ + resync_read_length_; ++b)
      bits[b] = 1;
  }
  bool clean = std::none_of(bits.begin(), bits.end(), [](uint8_t v) { return v != 0; });
  LL_RETURN_IF_ERROR(WriteBitmapFile(bits));
  std::lock_guard<std::mutex> lock(mu_);
  persisted_clean_ = clean;
  return Status::Ok();
}

Status CaptureQueue::WriteBitmapFile(const std::vector<uint8_t>& bits) {
  FileSystem* fs = FileSystem::Posix();
  std::string raw = EncodeDirtyBitmap(DirtyBitmap{options_.block_bytes, bits});
  std::string tmp = BitmapPath() + ".tmp";
  {
    LL_ASSIGN_OR_RETURN(auto f, fs->Open(tmp, OpenMode::kTruncate));
    LL_RETURN_IF_ERROR(f->WriteAt(0, raw.data(), raw.size()));
    LL_RETURN_IF_ERROR(f->Sync());
  }
  LL_RETURN_IF_ERROR(fs->Rename(tmp, BitmapPath()));
  return fs->SyncDir(options_.state_dir);
}

void CaptureQueue::Hold(int64_t deadline_mono_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  holding_ = true;
  hold_deadline_ns_ = deadline_mono_ns;
  hold_id_ = 0;
  hold_start_ns_ = MonoNow();
}

Result<uint64_t> CaptureQueue::HoldForGroup(uint64_t hold_id, int64_t deadline_mono_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  // Under mu_: every write that passed the hold check has finished recording, so
  // next_seq_ - 1 is exactly what completed before the hold.
  if (overflow_ || comparing_ || dirty_count_ > 0)
    return Status::FailedPrecondition(
        "the disk is resyncing (" + std::to_string(dirty_count_) + " dirty blocks" +
        (comparing_ ? ", comparing block hashes with the replica)" : ")"));
  if (next_seq_ <= 1) return Status::FailedPrecondition("the disk has no write yet");
  holding_ = true;
  hold_deadline_ns_ = deadline_mono_ns;
  hold_id_ = hold_id;
  hold_start_ns_ = MonoNow();
  return next_seq_ - 1;
}

bool CaptureQueue::ReleaseGroup(uint64_t hold_id, int64_t* held_us) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = MonoNow();
  bool mine = hold_id_ == hold_id && hold_id != 0;
  bool in_force = mine && holding_ && now <= hold_deadline_ns_;
  if (held_us) *held_us = mine ? (std::min(now, hold_deadline_ns_) - hold_start_ns_) / 1000 : 0;
  if (mine) {
    holding_ = false;
    hold_id_ = 0;
    hold_cv_.notify_all();
  }
  return in_force;
}

void CaptureQueue::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  holding_ = false;
  hold_id_ = 0;
  hold_cv_.notify_all();
}

void CaptureQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  holding_ = false;
  hold_cv_.notify_all();
  cv_.notify_all();
}

uint64_t CaptureQueue::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_ - 1;
}

CaptureQueueStats CaptureQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CaptureQueueStats s = stats_;
  s.state = overflow_                        ? CaptureState::kBitmap
            : dirty_count_ > 0 || comparing_ ? CaptureState::kResync
            : spilling_                      ? CaptureState::kSpilling
                                             : CaptureState::kStreaming;
  s.last_seq = next_seq_ - 1;
  s.memory_bytes = memory_bytes_;
  s.spill_bytes = spill_ ? spill_->bytes() : 0;
  s.dirty_blocks = dirty_count_;
  s.oldest_unacked_ns = unacked_.empty() ? 0 : unacked_.front().time_ns;
  if (dirty_count_ > 0 && dirty_since_ns_ > 0 && (s.oldest_unacked_ns == 0 || dirty_since_ns_ < s.oldest_unacked_ns))
    s.oldest_unacked_ns = dirty_since_ns_;
  return s;
}

// A write already in flight when the fence comes lands on the disk but is refused (never
// acknowledged): the machine cannot count on it, so the final point need not hold it.
Status CaptureBackend::Write(uint64_t offset, ByteSpan data, bool fua) {
  auto gate = queue_->EnterChange();
  if (queue_->fenced_in_gate()) return FencedError();
  LL_RETURN_IF_ERROR(inner_->Write(offset, data, fua));
  LL_RETURN_IF_ERROR(
      queue_->RecordWrite(wire::WriteKind::kData, offset, data.size(), data).status());
  return fua ? queue_->Persist() : Status::Ok();
}

Status CaptureBackend::Flush() {
  LL_RETURN_IF_ERROR(inner_->Flush());
  return queue_->Persist();
}

Status CaptureBackend::Trim(uint64_t offset, uint64_t length, bool fua) {
  auto gate = queue_->EnterChange();
  if (queue_->fenced_in_gate()) return FencedError();
  LL_RETURN_IF_ERROR(inner_->Trim(offset, length, fua));
  LL_RETURN_IF_ERROR(queue_->RecordWrite(wire::WriteKind::kTrim, offset, length, {}).status());
  return fua ? queue_->Persist() : Status::Ok();
}

Status CaptureBackend::WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode mode, bool fua) {
  auto gate = queue_->EnterChange();
  if (queue_->fenced_in_gate()) return FencedError();
  LL_RETURN_IF_ERROR(inner_->WriteZeroes(offset, length, mode, fua));
  LL_RETURN_IF_ERROR(queue_->RecordWrite(wire::WriteKind::kZero, offset, length, {}).status());
  return fua ? queue_->Persist() : Status::Ok();
}

}  // namespace lifeline::agent
