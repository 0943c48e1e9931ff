// A journal segment file: a header then records appended back to back. The writer side is
// used by one appender at a time (DiskReplica serializes appends); ReadAt-based readers may
// run concurrently with the appender on already written ranges.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/fs.h"
#include "store/format.h"

namespace lifeline::store {

// A scanned record: its header and where its payload starts in the segment file.
struct ScannedRecord {
  RecordHeader header;
  uint64_t record_offset = 0;   // of the record header
  uint64_t payload_offset = 0;
};

class Segment {
 public:
  // Creates a new segment file with its header, fsynced. The caller syncs the directory.
  static Result<std::unique_ptr<Segment>> Create(FileSystem* fs, const std::string& path,
                                                 uint64_t number, int64_t now_unix_ns);
  // Opens an existing segment and checks its header.
  static Result<std::unique_ptr<Segment>> Open(FileSystem* fs, const std::string& path,
                                               bool writable);

  // Outcome of scanning a segment from its header on.
  struct ScanResult {
    uint64_t valid_end = 0;        // end of the last good record
    uint64_t file_size = 0;
    bool tail_damaged = false;     // bytes after valid_end do not form a good record
    bool later_record_found = false;  // a good record exists after the damage (not a torn tail)
    std::string damage;            // what was wrong at valid_end
  };
  // Reads every record header in order and calls `fn` for each good one. With
  // verify_payloads it also reads each payload and checks its checksum.
  Result<ScanResult> Scan(bool verify_payloads, const std::function<Status(const ScannedRecord&)>& fn);

  // Appends one record (header encoded here, payload as given). REQUIRES: writable.
  Status Append(RecordHeader header, std::string_view payload, uint64_t* payload_offset);
  Status Sync() { return file_->Sync(); }
  Status TruncateTo(uint64_t size);

  // Reads `n` stored payload bytes at `offset` of the file.
  Status ReadPayload(uint64_t payload_offset, void* out, size_t n);
  // Reads and verifies a whole stored payload against its header (check data twice).
  Status ReadVerifiedPayload(const RecordHeader& h, uint64_t payload_offset, std::string* out);
  // Reads a whole record (header + payload) as stored, for compaction copies.
  Status ReadRaw(uint64_t record_offset, size_t size, std::string* out);
  Status AppendRaw(std::string_view record_bytes, uint64_t* record_offset);

  uint64_t number() const { return number_; }
  // The OS descriptor for vectored reads, or -1 (e.g. under a fault-injecting file system).
  int fd() const { return file_->fd(); }
  uint64_t size() const { return write_offset_; }
  const std::string& path() const { return file_->path(); }

 private:
  // Appended bytes after which writeback of the full pages behind the tail starts.
  static constexpr uint64_t kWritebackWindowBytes = 1u << 20;
  // How far ahead of a scan the file is requested, and in what pieces.
  static constexpr uint64_t kScanPrefetchBytes = 32u << 20;
  static constexpr uint64_t kScanPrefetchStepBytes = 4u << 20;

  Segment(std::unique_ptr<File> file, uint64_t number, uint64_t size)
      : file_(std::move(file)), number_(number), write_offset_(size), writeback_offset_(size) {}
  void StartWriteback();
  std::unique_ptr<File> file_;
  uint64_t number_;
  uint64_t write_offset_;
  uint64_t writeback_offset_;  // writeback was started for [.., writeback_offset_)
};

}  // namespace lifeline::store
