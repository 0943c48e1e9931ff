#include "common/fault_fs.h"

#include <algorithm>

namespace lifeline {

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFs* fs, std::unique_ptr<File> base, uint64_t generation)
      : fs_(fs), base_(std::move(base)), generation_(generation) {}

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    LL_RETURN_IF_ERROR(Alive());
    return base_->ReadAt(offset, buf, n);
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    std::lock_guard lock(fs_->mu_);
    LL_RETURN_IF_ERROR(AliveLocked());
    LL_RETURN_IF_ERROR(fs_->ChargeLocked(n));
    LL_RETURN_IF_ERROR(fs_->RecordWriteLocked(path(), base_.get(), offset, n));
    return base_->WriteAt(offset, data, n);
  }
  Status Sync() override {
    std::lock_guard lock(fs_->mu_);
    LL_RETURN_IF_ERROR(AliveLocked());
    if (fs_->fail_sync_) return Status::IOError("fsync " + path() + ": injected failure");
    LL_RETURN_IF_ERROR(base_->Sync());
    fs_->undo_.erase(path());
    return Status::Ok();
  }
  Result<uint64_t> Size() override {
    LL_RETURN_IF_ERROR(Alive());
    return base_->Size();
  }
  Status Truncate(uint64_t size) override {
    std::lock_guard lock(fs_->mu_);
    LL_RETURN_IF_ERROR(AliveLocked());
    LL_ASSIGN_OR_RETURN(uint64_t old_size, base_->Size());
    if (size < old_size)
      LL_RETURN_IF_ERROR(fs_->RecordWriteLocked(path(), base_.get(), size, old_size - size));
    else
      LL_RETURN_IF_ERROR(fs_->RecordWriteLocked(path(), base_.get(), old_size, 0));
    return base_->Truncate(size);
  }
  Status PunchHole(uint64_t offset, uint64_t len) override {
    std::lock_guard lock(fs_->mu_);
    LL_RETURN_IF_ERROR(AliveLocked());
    LL_RETURN_IF_ERROR(fs_->RecordWriteLocked(path(), base_.get(), offset, len));
    return base_->PunchHole(offset, len);
  }
  Result<std::pair<uint64_t, uint64_t>> NextData(uint64_t offset) override {
    LL_RETURN_IF_ERROR(Alive());
    return base_->NextData(offset);
  }
  // No fd: fast paths that bypass the wrapper would escape fault tracking.
  int fd() const override { return -1; }
  const std::string& path() const override { return base_->path(); }

 private:
  Status Alive() {
    std::lock_guard lock(fs_->mu_);
    return AliveLocked();
  }
  Status AliveLocked() {
    if (generation_ != fs_->generation_)
      return Status::IOError(path() + ": handle from before a simulated crash");
    return Status::Ok();
  }
  FaultInjectionFs* fs_;
  std::unique_ptr<File> base_;
  uint64_t generation_;
};

Status FaultInjectionFs::ChargeLocked(uint64_t n) {
  if (budget_ >= 0) {
    if (int64_t(n) > budget_) {
      budget_ = 0;
      return Status::NoSpace("injected: no space left on device");
    }
    budget_ -= int64_t(n);
  }
  bytes_written_ += n;
  return Status::Ok();
}

Status FaultInjectionFs::RecordWriteLocked(const std::string& path, File* f, uint64_t offset,
                                           uint64_t n) {
  LL_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  Undo u{offset, {}, size};
  if (offset < size) {
    uint64_t len = std::min<uint64_t>(n, size - offset);
    u.old_bytes.resize(len);
    LL_ASSIGN_OR_RETURN(size_t got, f->ReadAt(offset, u.old_bytes.data(), len));
    u.old_bytes.resize(got);
  }
  undo_[path].push_back(std::move(u));
  return Status::Ok();
}

std::string FaultInjectionFs::TrashPathLocked(const std::string& path) {
  return JoinPath(DirName(path), ".fault-trash-" + std::to_string(++trash_counter_));
}

Result<std::unique_ptr<File>> FaultInjectionFs::Open(const std::string& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  bool existed = base_->Exists(path);
  if (existed && mode == OpenMode::kTruncate) {
    // Truncating an existing file is a write: remember its old contents.
    LL_ASSIGN_OR_RETURN(auto old, base_->Open(path, OpenMode::kReadWrite));
    LL_ASSIGN_OR_RETURN(uint64_t size, old->Size());
    LL_RETURN_IF_ERROR(RecordWriteLocked(path, old.get(), 0, size));
  }
  LL_ASSIGN_OR_RETURN(auto f, base_->Open(path, mode));
  if (!existed && mode != OpenMode::kRead && mode != OpenMode::kReadWrite)
    dir_ops_.push_back({DirOp::kCreate, path, {}, {}});
  return std::unique_ptr<File>(new FaultFile(this, std::move(f), generation_));
}

Result<std::vector<std::string>> FaultInjectionFs::List(const std::string& dir) {
  LL_ASSIGN_OR_RETURN(auto names, base_->List(dir));
  std::erase_if(names, [](const std::string& n) { return n.starts_with(".fault-trash-"); });
  return names;
}

Status FaultInjectionFs::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  std::string trash = TrashPathLocked(path);
  LL_RETURN_IF_ERROR(base_->Rename(path, trash));
  dir_ops_.push_back({DirOp::kRemove, path, {}, trash});
  return Status::Ok();
}

Status FaultInjectionFs::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  std::string trash;
  if (base_->Exists(to)) {
    trash = TrashPathLocked(to);
    LL_RETURN_IF_ERROR(base_->Rename(to, trash));
  }
  LL_RETURN_IF_ERROR(base_->Rename(from, to));
  auto it = undo_.find(from);
  if (it != undo_.end()) {
    undo_[to] = std::move(it->second);
    undo_.erase(it);
  }
  dir_ops_.push_back({DirOp::kRename, to, from, trash});
  return Status::Ok();
}

Status FaultInjectionFs::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (fail_sync_) return Status::IOError("fsync dir " + dir + ": injected failure");
  LL_RETURN_IF_ERROR(base_->SyncDir(dir));
  std::vector<DirOp> keep;
  for (auto& op : dir_ops_) {
    bool here = DirName(op.path) == dir && (op.from.empty() || DirName(op.from) == dir);
    if (!here) {
      keep.push_back(std::move(op));
      continue;
    }
    if (!op.trash.empty()) (void)base_->Remove(op.trash);
  }
  dir_ops_ = std::move(keep);
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> FaultInjectionFs::Lock(const std::string& path) {
  return base_->Lock(path);
}

Status FaultInjectionFs::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  ++generation_;
  // Content first, newest change first, so each undo sees the state it was taken from.
  for (auto& [path, undos] : undo_) {
    if (!base_->Exists(path)) continue;
    LL_ASSIGN_OR_RETURN(auto f, base_->Open(path, OpenMode::kReadWrite));
    for (auto it = undos.rbegin(); it != undos.rend(); ++it) {
      if (!it->old_bytes.empty())
        LL_RETURN_IF_ERROR(f->WriteAt(it->offset, it->old_bytes.data(), it->old_bytes.size()));
      LL_RETURN_IF_ERROR(f->Truncate(it->old_size));
    }
  }
  undo_.clear();
  // Then directory entries, newest first.
  for (auto it = dir_ops_.rbegin(); it != dir_ops_.rend(); ++it) {
    switch (it->kind) {
      case DirOp::kCreate:
        (void)base_->Remove(it->path);
        break;
      case DirOp::kRemove:
        LL_RETURN_IF_ERROR(base_->Rename(it->trash, it->path));
        break;
      case DirOp::kRename:
        LL_RETURN_IF_ERROR(base_->Rename(it->path, it->from));
        if (!it->trash.empty()) LL_RETURN_IF_ERROR(base_->Rename(it->trash, it->path));
        break;
    }
  }
  dir_ops_.clear();
  return Status::Ok();
}

void FaultInjectionFs::SetWriteBudget(int64_t bytes) {
  std::lock_guard lock(mu_);
  budget_ = bytes;
}
void FaultInjectionFs::SetFailSync(bool fail) {
  std::lock_guard lock(mu_);
  fail_sync_ = fail;
}
uint64_t FaultInjectionFs::bytes_written() const {
  std::lock_guard lock(mu_);
  return bytes_written_;
}

}  // namespace lifeline
