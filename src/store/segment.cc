#include "store/segment.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "common/checksum.h"

namespace lifeline::store {

Result<std::unique_ptr<Segment>> Segment::Create(FileSystem* fs, const std::string& path,
                                                 uint64_t number, int64_t now_unix_ns) {
  LL_ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kCreateNew));
  uint8_t header[kSegmentHeaderSize];
  EncodeSegmentHeader({number, now_unix_ns}, header);
  LL_RETURN_IF_ERROR(file->WriteAt(0, header, sizeof header));
  LL_RETURN_IF_ERROR(file->Sync());
  return std::unique_ptr<Segment>(new Segment(std::move(file), number, kSegmentHeaderSize));
}

Result<std::unique_ptr<Segment>> Segment::Open(FileSystem* fs, const std::string& path,
                                               bool writable) {
  LL_ASSIGN_OR_RETURN(auto file, fs->Open(path, writable ? OpenMode::kReadWrite : OpenMode::kRead));
  uint8_t header[kSegmentHeaderSize];
  LL_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, header, sizeof header));
  if (n != sizeof header)
    return Status::Corruption(path + " offset 0: segment header truncated (" + std::to_string(n) + " bytes)");
  SegmentHeader h;
  Status s = DecodeSegmentHeader(header, &h);
  if (!s.ok()) return Status::Corruption(path + " offset 0: " + s.message());
  LL_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  return std::unique_ptr<Segment>(new Segment(std::move(file), h.number, size));
}

Result<Segment::ScanResult> Segment::Scan(bool verify_payloads,
                                          const std::function<Status(const ScannedRecord&)>& fn) {
  ScanResult result;
  LL_ASSIGN_OR_RETURN(result.file_size, file_->Size());
  uint64_t pos = kSegmentHeaderSize;
  std::string payload;
  auto damaged = [&](std::string what) {
    result.tail_damaged = true;
    result.damage = path() + " offset " + std::to_string(pos) + ": " + what;
  };
  uint64_t prefetched = pos;
  while (pos < result.file_size) {
    // The headers are spread over the whole file. Reading them one by one from a disk that
    // has none of it cached makes one small read per record (and leaves the payloads for a
    // second round of small reads when a materialize follows); keep a window ahead of the
    // scan requested in big pieces instead (the kernel caps one request at its read-ahead
    // size, hence the steps).
    while (file_->fd() >= 0 && prefetched < std::min(result.file_size, pos + kScanPrefetchBytes)) {
      (void)::posix_fadvise(file_->fd(), off_t(prefetched), off_t(kScanPrefetchStepBytes), POSIX_FADV_WILLNEED);
      prefetched += kScanPrefetchStepBytes;
    }
    uint8_t hb[kRecordHeaderSize];
    if (result.file_size - pos < kRecordHeaderSize) {
      damaged("truncated record header");
      break;
    }
    LL_ASSIGN_OR_RETURN(size_t n, file_->ReadAt(pos, hb, sizeof hb));
    if (n != sizeof hb) {
      damaged("short read of record header");
      break;
    }
    ScannedRecord rec;
    Status s = DecodeRecordHeader(hb, &rec.header);
    if (!s.ok()) {
      damaged(s.message());
      break;
    }
    rec.record_offset = pos;
    rec.payload_offset = pos + kRecordHeaderSize;
    if (result.file_size - rec.payload_offset < rec.header.payload_size) {
      damaged("record payload truncated");
      break;
    }
    if (verify_payloads && rec.header.payload_size > 0) {
      s = ReadVerifiedPayload(rec.header, rec.payload_offset, &payload);
      if (!s.ok()) {
        damaged(s.message());
        break;
      }
    }
    LL_RETURN_IF_ERROR(fn(rec));
    pos = rec.payload_offset + rec.header.payload_size;
  }
  result.valid_end = pos;
  if (result.tail_damaged) {
    // Torn tail or real damage? Look for any well-formed record header after the damage:
    // an append that was torn leaves nothing valid behind it.
    std::string rest(size_t(std::min<uint64_t>(result.file_size - pos, 64u << 20)), '\0');
    LL_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos + 1, rest.data(), rest.size()));
    rest.resize(got);
    const auto* p = reinterpret_cast<const uint8_t*>(rest.data());
    for (size_t i = 0; i + kRecordHeaderSize <= rest.size(); ++i) {
      if (p[i] != 0x4c || std::memcmp(p + i, "LLRC", 4) != 0) continue;
      RecordHeader h;
      if (DecodeRecordHeader(p + i, &h).ok()) {
        result.later_record_found = true;
        break;
      }
    }
  }
  return result;
}

Status Segment::Append(RecordHeader header, std::string_view payload, uint64_t* payload_offset) {
  header.payload_size = uint32_t(payload.size());
  uint8_t head[kRecordHeaderSize];
  EncodeRecordHeader(header, head);
  size_t total = kRecordHeaderSize + payload.size();
  // Header and payload in one vectored write: no copy of the payload.
  ByteSpan pieces[2] = {ByteSpan(head, kRecordHeaderSize),
                        ByteSpan(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())};
  Status s = file_->WriteAtV(write_offset_, pieces, 2);
  if (!s.ok()) {
    // A partial append must not leave garbage that a later append would follow.
    (void)file_->Truncate(write_offset_);
    return s;
  }
  *payload_offset = write_offset_ + kRecordHeaderSize;
  write_offset_ += total;
  StartWriteback();
  return Status::Ok();
}

void Segment::StartWriteback() {
  // Start writing back the whole pages behind the tail once a window has filled, so the
  // device works while the next records are copied in and the group commit's fsync finds
  // most of its data already on the way. Only an early start: durability still comes from
  // Sync(). The page holding the tail is left alone, since the next append dirties it again.
  if (file_->fd() < 0 || write_offset_ - writeback_offset_ < kWritebackWindowBytes) return;
  uint64_t end = write_offset_ & ~uint64_t(4095);
  if (end <= writeback_offset_) return;
  (void)::sync_file_range(file_->fd(), off_t(writeback_offset_), off_t(end - writeback_offset_),
                          SYNC_FILE_RANGE_WRITE);
  writeback_offset_ = end;
}

Status Segment::AppendRaw(std::string_view record_bytes, uint64_t* record_offset) {
  Status s = file_->WriteAt(write_offset_, record_bytes.data(), record_bytes.size());
  if (!s.ok()) {
    (void)file_->Truncate(write_offset_);
    return s;
  }
  *record_offset = write_offset_;
  write_offset_ += record_bytes.size();
  return Status::Ok();
}

Status Segment::TruncateTo(uint64_t size) {
  LL_RETURN_IF_ERROR(file_->Truncate(size));
  LL_RETURN_IF_ERROR(file_->Sync());
  write_offset_ = size;
  writeback_offset_ = std::min(writeback_offset_, size);
  return Status::Ok();
}

Status Segment::ReadPayload(uint64_t payload_offset, void* out, size_t n) {
  LL_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(payload_offset, out, n));
  if (got != n)
    return Status::Corruption(path() + " offset " + std::to_string(payload_offset) + ": payload truncated");
  return Status::Ok();
}

Status Segment::ReadVerifiedPayload(const RecordHeader& h, uint64_t payload_offset, std::string* out) {
  out->resize(h.payload_size);
  LL_RETURN_IF_ERROR(ReadPayload(payload_offset, out->data(), out->size()));
  if (Xxh3(*out) != h.payload_checksum)
    return Status::Corruption(path() + " offset " + std::to_string(payload_offset - kRecordHeaderSize) +
                              ": payload checksum mismatch (seq " + std::to_string(h.seq) + ")");
  return Status::Ok();
}

Status Segment::ReadRaw(uint64_t record_offset, size_t size, std::string* out) {
  out->resize(size);
  return ReadPayload(record_offset, out->data(), size);
}

}  // namespace lifeline::store
