// On-disk formats of the replica store: journal segment header, record header, manifest
// header. Specified in docs/formats/journal.md and docs/formats/manifest.md; every change
// to a layout bumps its version. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline::store {

// What a record does to its range of the disk.
enum class RecordKind : uint8_t { kData = 1, kZero = 2, kTrim = 3 };
std::string_view RecordKindName(RecordKind kind);

constexpr uint32_t kSegmentMagic = 0x47534c4c;  // "LLSG"
constexpr uint32_t kRecordMagic = 0x43524c4c;   // "LLRC"
constexpr uint32_t kManifestMagic = 0x464d4c4c; // "LLMF"
constexpr uint8_t kSegmentVersion = 1;
constexpr uint8_t kRecordVersion = 1;
constexpr uint32_t kManifestVersion = 1;

constexpr size_t kSegmentHeaderSize = 64;
constexpr size_t kRecordHeaderSize = 64;
constexpr size_t kManifestHeaderSize = 24;
// Largest range one record may cover; larger writes are split by the sender.
constexpr uint32_t kMaxRecordBytes = 32u << 20;

struct SegmentHeader {
  uint64_t number = 0;          // unique per disk, never reused
  int64_t created_unix_ns = 0;
};

// A record header as stored. `payload_size` bytes of payload follow it.
struct RecordHeader {
  RecordKind kind = RecordKind::kData;
  uint8_t codec = 0;            // lifeline::Codec of the payload
  uint64_t seq = 0;             // write sequence number, per disk, from 1
  uint64_t offset = 0;          // byte offset on the disk
  uint32_t length = 0;          // bytes of the disk this record covers
  uint32_t payload_size = 0;    // stored bytes (0 for zero and trim)
  int64_t time_unix_ns = 0;     // when the write completed at the source
  uint64_t data_hash = 0;       // xxh3-64 of the raw (uncompressed) data; 0 for zero/trim
  uint64_t payload_checksum = 0;// xxh3-64 of the stored payload bytes
};

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]);
Status DecodeSegmentHeader(const uint8_t in[kSegmentHeaderSize], SegmentHeader* h);

void EncodeRecordHeader(const RecordHeader& h, uint8_t out[kRecordHeaderSize]);
// Checks magic, version, header checksum and field sanity (length bounds, kinds, codecs).
Status DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* h);

// Manifest file: 24-byte header (magic, version, body size, body xxh3) then a JSON body.
std::string EncodeManifestFile(std::string_view body);
Result<std::string> DecodeManifestFile(std::string_view file, std::string_view name);

}  // namespace lifeline::store
