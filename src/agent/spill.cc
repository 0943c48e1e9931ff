// SpillFile: append-only checksummed records, read back in order. See spill.h.
#include "agent/spill.h"

#include "common/bytes.h"
#include "common/checksum.h"

#include <algorithm>
#include <cstring>

namespace lifeline::agent {

namespace {
// Record layout (little endian): magic u32, payload length u32, seq u64, pieces u32,
// type u8, kind u8, point kind u8, pad u8, offset u64, length u64, time i64,
// label length u16, group length u16, label, group, payload, xxh3 u64 of all before it.
constexpr uint32_t kRecordMagic = 0x4c4c5350;  // "PSLL"
constexpr size_t kFixedBytes = kSpillFixedBytes;
static_assert(kFixedBytes == 4 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 2 + 2);
}  // namespace

Result<size_t> DecodeSpillRecord(ByteSpan buf, CaptureRecord* out) {
  const uint8_t* p = buf.data();
  if (buf.size() < kFixedBytes) return Status::Corruption("spill record truncated in its header");
  if (GetLE32(p) != kRecordMagic) return Status::Corruption("spill record: bad magic");
  uint32_t payload = GetLE32(p + 4);
  size_t label_len = GetLE16(p + 48), group_len = GetLE16(p + 50);
  if (payload > kMaxSpillPayloadBytes)
    return Status::Corruption("spill record: payload of " + std::to_string(payload) + " bytes is too long");
  if (label_len > wire::kMaxLabelBytes || group_len > wire::kMaxIdBytes)
    return Status::Corruption("spill record: label or group id too long");
  size_t total = kFixedBytes + label_len + group_len + payload + 8;
  if (total > buf.size()) return Status::Corruption("spill record runs past the end");
  if (GetLE64(p + total - 8) != Xxh3(p, total - 8)) return Status::Corruption("spill record checksum");
  uint8_t type = p[20], kind = p[21], point_kind = p[22];
  if (p[23] != 0) return Status::Corruption("spill record: reserved byte is not zero");
  if (type > uint8_t(CaptureRecord::Type::kPoint) || kind > uint8_t(wire::WriteKind::kTrim) ||
      point_kind > uint8_t(wire::PointKind::kUser))
    return Status::Corruption("spill record: unknown type or kind");
  CaptureRecord r;
  r.seq = GetLE64(p + 8);
  r.pieces = GetLE32(p + 16);
  r.type = CaptureRecord::Type(type);
  r.kind = wire::WriteKind(kind);
  r.point_kind = wire::PointKind(point_kind);
  r.offset = GetLE64(p + 24);
  r.length = GetLE64(p + 32);
  r.time_ns = int64_t(GetLE64(p + 40));
  if (r.pieces == 0) return Status::Corruption("spill record: zero pieces");
  if (r.offset + r.length < r.offset) return Status::Corruption("spill record: range overflows");
  bool data = r.type == CaptureRecord::Type::kWrite && r.kind == wire::WriteKind::kData;
  if (data ? payload != r.length : payload != 0)
    return Status::Corruption("spill record: payload of " + std::to_string(payload) + " bytes for a length of " +
                              std::to_string(r.length));
  size_t pos = kFixedBytes;
  r.label.assign(reinterpret_cast<const char*>(p + pos), label_len);
  pos += label_len;
  r.group_id.assign(reinterpret_cast<const char*>(p + pos), group_len);
  pos += group_len;
  if (payload) r.data = std::make_shared<const std::string>(reinterpret_cast<const char*>(p + pos), payload);
  *out = std::move(r);
  return total;
}

Result<std::vector<SpillRange>> ScanSpillFile(const std::string& path, uint64_t max_bytes) {
  std::vector<SpillRange> out;
  FileSystem* fs = FileSystem::Posix();
  if (!fs->Exists(path)) return out;
  LL_ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kRead));
  LL_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_bytes) return Status::Corruption(path + " is " + std::to_string(size) + " bytes, above its bound");
  uint64_t pos = 0;
  std::string buf;
  while (pos < size) {
    // Read the header, then the whole record; the decoder checks every length.
    size_t want = size_t(std::min<uint64_t>(size - pos, kFixedBytes));
    buf.resize(want);
    LL_ASSIGN_OR_RETURN(size_t got, file->ReadAt(pos, buf.data(), want));
    if (got != want || want < kFixedBytes)
      return Status::Corruption(path + ": record at " + std::to_string(pos) + " truncated");
    auto* h = reinterpret_cast<const uint8_t*>(buf.data());
    uint64_t total = kFixedBytes + uint64_t(GetLE16(h + 48)) + GetLE16(h + 50) + GetLE32(h + 4) + 8;
    total = std::min<uint64_t>(total, size - pos);
    buf.resize(size_t(total));
    LL_ASSIGN_OR_RETURN(got, file->ReadAt(pos, buf.data(), buf.size()));
    CaptureRecord r;
    auto n = DecodeSpillRecord(ByteSpan(reinterpret_cast<const uint8_t*>(buf.data()), got), &r);
    if (!n.ok()) return n.status().WithContext(path + ": record at " + std::to_string(pos));
    if (r.type == CaptureRecord::Type::kWrite) out.push_back({r.offset, r.length});
    pos += *n;
  }
  return out;
}

Result<std::unique_ptr<SpillFile>> SpillFile::Create(const std::string& path, uint64_t max_bytes) {
  LL_ASSIGN_OR_RETURN(auto file, FileSystem::Posix()->Open(path, OpenMode::kTruncate));
  return std::unique_ptr<SpillFile>(new SpillFile(std::move(file), max_bytes));
}

uint64_t SpillFile::EncodedBytes(const CaptureRecord& r) {
  return kFixedBytes + r.label.size() + r.group_id.size() + (r.data ? r.data->size() : 0) + 8;
}

// The fixed fields, label and group id are encoded into a small buffer; the payload is
// hashed and written from the record's own buffer (one vectored write), not copied: this
// runs in the machine's write path while the memory buffer is full.
Status SpillFile::Append(const CaptureRecord& r) {
  size_t payload = r.data ? r.data->size() : 0;
  std::string head(kFixedBytes + r.label.size() + r.group_id.size(), '\0');
  auto* p = reinterpret_cast<uint8_t*>(head.data());
  PutLE32(p, kRecordMagic);
  PutLE32(p + 4, uint32_t(payload));
  PutLE64(p + 8, r.seq);
  PutLE32(p + 16, r.pieces);
  p[20] = uint8_t(r.type);
  p[21] = uint8_t(r.kind);
  p[22] = uint8_t(r.point_kind);
  PutLE64(p + 24, r.offset);
  PutLE64(p + 32, r.length);
  PutLE64(p + 40, uint64_t(r.time_ns));
  PutLE16(p + 48, uint16_t(r.label.size()));
  PutLE16(p + 50, uint16_t(r.group_id.size()));
  std::memcpy(p + kFixedBytes, r.label.data(), r.label.size());
  std::memcpy(p + kFixedBytes + r.label.size(), r.group_id.data(), r.group_id.size());
  ByteSpan body(payload ? reinterpret_cast<const uint8_t*>(r.data->data()) : nullptr, payload);
  Xxh3Stream hash;
  hash.Update(p, head.size());
  if (payload) hash.Update(body.data(), body.size());
  uint8_t tail[8];
  PutLE64(tail, hash.Digest());
  ByteSpan pieces[3] = {ByteSpan(p, head.size()), body, ByteSpan(tail, sizeof(tail))};
  LL_RETURN_IF_ERROR(file_->WriteAtV(write_pos_, pieces, 3));
  write_pos_ += EncodedBytes(r);
  ++records_;
  return Status::Ok();
}

Status SpillFile::PopFront(CaptureRecord* out) {
  uint8_t head[kFixedBytes];
  LL_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(read_pos_, head, sizeof(head)));
  if (got != sizeof(head) || GetLE32(head) != kRecordMagic) return Status::Corruption("spill record header at " + std::to_string(read_pos_));
  uint64_t total = kFixedBytes + uint64_t(GetLE16(head + 48)) + GetLE16(head + 50) + GetLE32(head + 4) + 8;
  if (read_pos_ + total > write_pos_) return Status::Corruption("spill record runs past the end");
  std::string buf(size_t(total), '\0');
  LL_ASSIGN_OR_RETURN(got, file_->ReadAt(read_pos_, buf.data(), buf.size()));
  if (got != buf.size()) return Status::Corruption("spill record truncated");
  LL_ASSIGN_OR_RETURN(size_t n, DecodeSpillRecord(ByteSpan(reinterpret_cast<const uint8_t*>(buf.data()), got), out));
  read_pos_ += n;
  --records_;
  if (read_pos_ == write_pos_) {  // caught up: start over at the front, give the space back
    read_pos_ = write_pos_ = 0;
    LL_RETURN_IF_ERROR(file_->Truncate(0));
  }
  return Status::Ok();
}

}  // namespace lifeline::agent
