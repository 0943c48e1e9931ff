// A FileSystem wrapper for crash and fault tests (leveldb's fault-injection Env is the
// model). It remembers everything written since the last Sync of each file and every
// directory change since the last SyncDir, and DropUnsyncedData() undoes them: what is left
// is exactly what a power cut would leave. It can also run out of space after a byte budget
// and fail syncs. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fs.h"

namespace lifeline {

class FaultInjectionFs final : public FileSystem {
 public:
  explicit FaultInjectionFs(FileSystem* base) : base_(base) {}

  // Simulates a power cut: every handle opened before becomes unusable (IOError), unsynced
  // writes are rolled back, unsynced creations, removals and renames are undone.
  Status DropUnsyncedData();
  // After `bytes` more bytes are written, writes fail with NoSpace (negative: no limit).
  void SetWriteBudget(int64_t bytes);
  void SetFailSync(bool fail);
  uint64_t bytes_written() const;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<std::vector<std::string>> List(const std::string& dir) override;
  Status MakeDirs(const std::string& path) override { return base_->MakeDirs(path); }
  Status Remove(const std::string& path) override;
  Status RemoveDir(const std::string& path) override { return base_->RemoveDir(path); }
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

 private:
  friend class FaultFile;
  struct Undo {
    uint64_t offset;
    std::string old_bytes;  // bytes that were at [offset, offset+size) before
    uint64_t old_size;      // file size before the change
  };
  struct DirOp {
    enum Kind { kCreate, kRemove, kRename } kind;
    std::string path;        // created / removed path, or rename target
    std::string from;        // rename source
    std::string trash;       // where a removed or replaced file waits until SyncDir
  };

  // All REQUIRE mu_ held.
  Status RecordWriteLocked(const std::string& path, File* f, uint64_t offset, uint64_t n);
  Status ChargeLocked(uint64_t n);
  std::string TrashPathLocked(const std::string& path);

  FileSystem* base_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  int64_t budget_ = -1;
  bool fail_sync_ = false;
  uint64_t bytes_written_ = 0;
  uint64_t trash_counter_ = 0;
  std::map<std::string, std::vector<Undo>> undo_;  // by current path
  std::vector<DirOp> dir_ops_;                      // in order
};

}  // namespace lifeline
