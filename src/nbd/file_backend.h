// FileBackend: an nbd::Backend over a raw image file (or block device) using positional
// I/O: pread/pwrite, fdatasync, fallocate (punch hole, zero range) and SEEK_DATA/SEEK_HOLE
// for base:allocation. Thread-safe: only positional calls on one descriptor.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "nbd/backend.h"

namespace lifeline::nbd {

class FileBackend final : public Backend {
 public:
  // Opens `path` (read-write unless `read_only`). NotFound if it does not exist.
  static Result<std::unique_ptr<FileBackend>> Open(const std::string& path, bool read_only);
  ~FileBackend() override;
  FileBackend(const FileBackend&) = delete;
  FileBackend& operator=(const FileBackend&) = delete;

  uint64_t size() const override { return size_bytes_; }
  Status Read(uint64_t offset, MutableByteSpan out) override;
  Status Write(uint64_t offset, ByteSpan data, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length, bool fua) override;
  Status WriteZeroes(uint64_t offset, uint64_t length, ZeroMode mode, bool fua) override;
  Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                     std::vector<Extent>* out) override;

 private:
  FileBackend(int fd, uint64_t size_bytes, std::string path)
      : fd_(fd), size_bytes_(size_bytes), path_(std::move(path)) {}
  Status WriteZeroBuffer(uint64_t offset, uint64_t length);

  int fd_;
  uint64_t size_bytes_;
  std::string path_;
};

}  // namespace lifeline::nbd
