// File-system interface (leveldb's Env, narrowed): every byte the replica store reads or
// writes goes through it, so tests can drop everything not fsynced, fill the disk or fail
// a sync. File objects are thread-compatible for positional I/O (ReadAt/WriteAt may run
// concurrently on distinct ranges); FileSystem implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline {

class File {
 public:
  virtual ~File() = default;
  // Reads up to n bytes at offset; returns the count (short only at end of file).
  virtual Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) = 0;
  // Writes exactly n bytes at offset (extends the file if needed).
  virtual Status WriteAt(uint64_t offset, const void* data, size_t n) = 0;
  // Writes `count` pieces back to back at offset, as WriteAt of their concatenation. This
  // default copies them into one buffer; the POSIX file writes them with pwritev, no copy.
  virtual Status WriteAtV(uint64_t offset, const ByteSpan* pieces, size_t count);
  virtual Status Sync() = 0;  // data and metadata durable (fsync)
  virtual Result<uint64_t> Size() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Deallocates [offset, offset+len): it reads as zeros afterwards and uses no space.
  virtual Status PunchHole(uint64_t offset, uint64_t len) = 0;
  // The next data extent at or after offset (SEEK_DATA/SEEK_HOLE): {start, end}; start ==
  // Size() when there is no more data. Implementations without hole support report data.
  virtual Result<std::pair<uint64_t, uint64_t>> NextData(uint64_t offset) = 0;
  // The OS descriptor for zero-copy fast paths (copy_file_range), or -1.
  virtual int fd() const { return -1; }
  virtual const std::string& path() const = 0;
};

enum class OpenMode {
  kRead,         // must exist, read-only
  kReadWrite,    // must exist
  kCreate,       // create if missing, keep contents
  kCreateNew,    // must not exist
  kTruncate,     // create or truncate to zero
};

class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;  // names only
  virtual Status MakeDirs(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& path) = 0;  // must be empty
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  // An exclusive advisory lock held while the returned object lives; Busy if held.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;

  static FileSystem* Posix();
};

// Helpers over any FileSystem.
Status WriteFileAtomic(FileSystem* fs, const std::string& path, std::string_view data);
Result<std::string> ReadWholeFile(FileSystem* fs, const std::string& path,
                                  uint64_t max_size_bytes);
std::string JoinPath(const std::string& dir, const std::string& name);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace lifeline
