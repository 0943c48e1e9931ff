#include "store/format.h"

#include "common/bytes.h"
#include "common/checksum.h"
#include "common/codec.h"

namespace lifeline::store {

std::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kData: return "data";
    case RecordKind::kZero: return "zero";
    case RecordKind::kTrim: return "trim";
  }
  return "unknown";
}

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]) {
  std::fill(out, out + kSegmentHeaderSize, 0);
  PutLE32(out, kSegmentMagic);
  out[4] = kSegmentVersion;
  PutLE64(out + 8, h.number);
  PutLE64(out + 16, uint64_t(h.created_unix_ns));
  PutLE32(out + 60, Xxh32(out, 60));
}

Status DecodeSegmentHeader(const uint8_t in[kSegmentHeaderSize], SegmentHeader* h) {
  if (GetLE32(in) != kSegmentMagic) return Status::Corruption("not a journal segment (bad magic)");
  if (in[4] > kSegmentVersion)
    return Status::Corruption("segment format version " + std::to_string(in[4]) +
                              " is newer than this build reads (" +
                              std::to_string(kSegmentVersion) + "): upgrade lifeline");
  if (GetLE32(in + 60) != Xxh32(in, 60)) return Status::Corruption("segment header checksum mismatch");
  h->number = GetLE64(in + 8);
  h->created_unix_ns = int64_t(GetLE64(in + 16));
  return Status::Ok();
}

void EncodeRecordHeader(const RecordHeader& h, uint8_t out[kRecordHeaderSize]) {
  std::fill(out, out + kRecordHeaderSize, 0);
  PutLE32(out, kRecordMagic);
  out[4] = kRecordVersion;
  out[5] = uint8_t(h.kind);
  out[6] = h.codec;
  PutLE64(out + 8, h.seq);
  PutLE64(out + 16, h.offset);
  PutLE32(out + 24, h.length);
  PutLE32(out + 28, h.payload_size);
  PutLE64(out + 32, uint64_t(h.time_unix_ns));
  PutLE64(out + 40, h.data_hash);
  PutLE64(out + 48, h.payload_checksum);
  PutLE32(out + 60, Xxh32(out, 60));
}

Status DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* h) {
  if (GetLE32(in) != kRecordMagic) return Status::Corruption("bad record magic");
  if (GetLE32(in + 60) != Xxh32(in, 60)) return Status::Corruption("record header checksum mismatch");
  if (in[4] > kRecordVersion)
    return Status::Corruption("record format version " + std::to_string(in[4]) + " is newer than this build reads");
  h->kind = RecordKind(in[5]);
  h->codec = in[6];
  h->seq = GetLE64(in + 8);
  h->offset = GetLE64(in + 16);
  h->length = GetLE32(in + 24);
  h->payload_size = GetLE32(in + 28);
  h->time_unix_ns = int64_t(GetLE64(in + 32));
  h->data_hash = GetLE64(in + 40);
  h->payload_checksum = GetLE64(in + 48);
  if (h->kind != RecordKind::kData && h->kind != RecordKind::kZero && h->kind != RecordKind::kTrim)
    return Status::Corruption("unknown record kind " + std::to_string(in[5]));
  if (h->codec > uint8_t(Codec::kZstd)) return Status::Corruption("unknown codec " + std::to_string(h->codec));
  if (h->length == 0 || h->length > kMaxRecordBytes) return Status::Corruption("record length out of range");
  if (h->seq == 0) return Status::Corruption("record seq 0");
  if (h->kind == RecordKind::kData) {
    if (h->payload_size == 0 || h->payload_size > kMaxRecordBytes)
      return Status::Corruption("data record payload size out of range");
    if (h->codec == uint8_t(Codec::kNone) && h->payload_size != h->length)
      return Status::Corruption("raw data record payload size differs from its length");
  } else if (h->payload_size != 0) {
    return Status::Corruption("zero/trim record with a payload");
  }
  return Status::Ok();
}

std::string EncodeManifestFile(std::string_view body) {
  std::string out(kManifestHeaderSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  PutLE32(p, kManifestMagic);
  PutLE32(p + 4, kManifestVersion);
  PutLE64(p + 8, body.size());
  PutLE64(p + 16, Xxh3(body));
  out.append(body);
  return out;
}

Result<std::string> DecodeManifestFile(std::string_view file, std::string_view name) {
  std::string where(name);
  if (file.size() < kManifestHeaderSize)
    return Status::Corruption(where + ": truncated manifest (" + std::to_string(file.size()) + " bytes)");
  auto* p = reinterpret_cast<const uint8_t*>(file.data());
  if (GetLE32(p) != kManifestMagic) return Status::Corruption(where + ": not a lifeline manifest (bad magic at offset 0)");
  uint32_t version = GetLE32(p + 4);
  if (version > kManifestVersion)
    return Status::Corruption(where + ": manifest format version " + std::to_string(version) +
                              " was written by a newer lifeline; this build reads up to version " +
                              std::to_string(kManifestVersion) + ": upgrade lifeline to open it");
  uint64_t size = GetLE64(p + 8);
  if (size != file.size() - kManifestHeaderSize)
    return Status::Corruption(where + ": manifest body is " + std::to_string(file.size() - kManifestHeaderSize) +
                              " bytes, header says " + std::to_string(size));
  std::string_view body = file.substr(kManifestHeaderSize);
  if (Xxh3(body) != GetLE64(p + 16)) return Status::Corruption(where + ": manifest checksum mismatch at offset 24");
  return std::string(body);
}

}  // namespace lifeline::store
