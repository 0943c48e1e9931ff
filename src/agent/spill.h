// The capture stream's record (CaptureRecord) and SpillFile: the bounded, append-only file
// where records wait when the memory buffer is full. Each record is checksummed (xxh3); the
// file is a FIFO read from the front and reset to empty whenever the reader catches up.
// Crash safety does not rest on this file: CaptureQueue::Persist records the blocks of every
// unacknowledged write (spilled ones too) in the dirty bitmap, which a restart resyncs.
// Thread-compatible: the owning CaptureQueue calls it under its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/fs.h"
#include "common/status.h"
#include "wire/messages.h"

namespace lifeline::agent {

// One entry of the capture stream: a write (data, zero or trim) or a recovery point.
struct CaptureRecord {
  enum class Type : uint8_t { kWrite = 0, kPoint = 1 };
  Type type = Type::kWrite;
  uint64_t seq = 0;                 // first seq of the write; a point's seq
  uint32_t pieces = 1;              // seqs this write covers (split to the wire's limits)
  wire::WriteKind kind = wire::WriteKind::kData;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const std::string> data;  // kData only
  int64_t time_ns = 0;
  wire::PointKind point_kind = wire::PointKind::kCrash;
  std::string label;
  std::string group_id;
  uint64_t last_seq() const { return type == Type::kPoint ? seq : seq + pieces - 1; }
};

// Record format limits (docs/capture.md); a record outside them is Corruption.
inline constexpr uint32_t kMaxSpillPayloadBytes = 64u << 20;  // NBD writes are at most 32 MiB
inline constexpr size_t kSpillFixedBytes = 52;

// Decodes the record at the start of `buf` into `out`; returns its encoded size. Corruption
// for a bad magic, a field out of range, a record longer than `buf`, or a bad checksum.
Result<size_t> DecodeSpillRecord(ByteSpan buf, CaptureRecord* out);

// What a spill file left by an earlier run holds: the disk ranges of its write records, in
// order. Corruption (with the offset) when a record is damaged; the caller cannot then know
// which blocks the file covered.
struct SpillRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};
Result<std::vector<SpillRange>> ScanSpillFile(const std::string& path, uint64_t max_bytes);

class SpillFile {
 public:
  // Creates (or truncates) the spill file at `path`, holding at most `max_bytes`.
  static Result<std::unique_ptr<SpillFile>> Create(const std::string& path, uint64_t max_bytes);

  // Encoded size of `r` in the file.
  static uint64_t EncodedBytes(const CaptureRecord& r);
  bool Fits(const CaptureRecord& r) const { return write_pos_ + EncodedBytes(r) <= max_bytes_; }
  // Appends `r`. REQUIRES: Fits(r).
  Status Append(const CaptureRecord& r);
  // Reads the oldest record; Corruption if its checksum fails. REQUIRES: !empty().
  Status PopFront(CaptureRecord* out);
  bool empty() const { return read_pos_ == write_pos_; }
  uint64_t bytes() const { return write_pos_ - read_pos_; }
  uint64_t records() const { return records_; }

 private:
  SpillFile(std::unique_ptr<File> file, uint64_t max_bytes) : file_(std::move(file)), max_bytes_(max_bytes) {}
  std::unique_ptr<File> file_;
  const uint64_t max_bytes_;
  uint64_t read_pos_ = 0;
  uint64_t write_pos_ = 0;
  uint64_t records_ = 0;
};

}  // namespace lifeline::agent
