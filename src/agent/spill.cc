// SpillFile: append-only checksummed records, read back in order. See spill.h.
#include "agent/spill.h"

#include "common/bytes.h"
#include "common/checksum.h"

namespace lifeline::agent {

namespace {
// Record layout (little endian): magic u32, payload length u32, seq u64, pieces u32,
// type u8, kind u8, point kind u8, pad u8, offset u64, length u64, time i64,
// label length u16, group length u16, label, group, payload, xxh3 u64 of all before it.
constexpr uint32_t kRecordMagic = 0x4c4c5350;  // "PSLL"
constexpr size_t kFixedBytes = 4 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 2 + 2;
}  // namespace

Result<std::unique_ptr<SpillFile>> SpillFile::Create(const std::string& path, uint64_t max_bytes) {
  LL_ASSIGN_OR_RETURN(auto file, FileSystem::Posix()->Open(path, OpenMode::kTruncate));
  return std::unique_ptr<SpillFile>(new SpillFile(std::move(file), max_bytes));
}

uint64_t SpillFile::EncodedBytes(const CaptureRecord& r) {
  return kFixedBytes + r.label.size() + r.group_id.size() + (r.data ? r.data->size() : 0) + 8;
}

Status SpillFile::Append(const CaptureRecord& r) {
  std::string buf(EncodedBytes(r), '\0');
  auto* p = reinterpret_cast<uint8_t*>(buf.data());
  size_t payload = r.data ? r.data->size() : 0;
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
  size_t pos = kFixedBytes;
  std::memcpy(p + pos, r.label.data(), r.label.size());
  pos += r.label.size();
  std::memcpy(p + pos, r.group_id.data(), r.group_id.size());
  pos += r.group_id.size();
  if (payload) std::memcpy(p + pos, r.data->data(), payload);
  pos += payload;
  PutLE64(p + pos, Xxh3(p, pos));
  LL_RETURN_IF_ERROR(file_->WriteAt(write_pos_, buf.data(), buf.size()));
  write_pos_ += buf.size();
  ++records_;
  return Status::Ok();
}

Status SpillFile::PopFront(CaptureRecord* out) {
  uint8_t head[kFixedBytes];
  LL_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(read_pos_, head, sizeof(head)));
  if (got != sizeof(head) || GetLE32(head) != kRecordMagic) return Status::Corruption("spill record header at " + std::to_string(read_pos_));
  uint32_t payload = GetLE32(head + 4);
  size_t label_len = GetLE16(head + 48), group_len = GetLE16(head + 50);
  size_t total = kFixedBytes + label_len + group_len + payload + 8;
  if (read_pos_ + total > write_pos_) return Status::Corruption("spill record runs past the end");
  std::string buf(total, '\0');
  LL_ASSIGN_OR_RETURN(got, file_->ReadAt(read_pos_, buf.data(), total));
  auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  if (got != total || GetLE64(p + total - 8) != Xxh3(p, total - 8)) return Status::Corruption("spill record checksum");
  out->seq = GetLE64(p + 8);
  out->pieces = GetLE32(p + 16);
  out->type = CaptureRecord::Type(p[20]);
  out->kind = wire::WriteKind(p[21]);
  out->point_kind = wire::PointKind(p[22]);
  out->offset = GetLE64(p + 24);
  out->length = GetLE64(p + 32);
  out->time_ns = int64_t(GetLE64(p + 40));
  size_t pos = kFixedBytes;
  out->label.assign(buf.data() + pos, label_len);
  pos += label_len;
  out->group_id.assign(buf.data() + pos, group_len);
  pos += group_len;
  out->data = payload ? std::make_shared<const std::string>(buf.data() + pos, payload) : nullptr;
  read_pos_ += total;
  --records_;
  if (read_pos_ == write_pos_) {  // caught up: start over at the front, give the space back
    read_pos_ = write_pos_ = 0;
    LL_RETURN_IF_ERROR(file_->Truncate(0));
  }
  return Status::Ok();
}

}  // namespace lifeline::agent
