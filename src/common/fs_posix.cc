// POSIX FileSystem: pread/pwrite on descriptors, fallocate for holes, flock for locks.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"

namespace lifeline {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, static_cast<char*>(buf) + done, n - done, off_t(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + path_ + " at " + std::to_string(offset));
      }
      if (r == 0) break;
      done += size_t(r);
    }
    return done;
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pwrite(fd_, static_cast<const char*>(data) + done, n - done,
                           off_t(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path_ + " at " + std::to_string(offset));
      }
      done += size_t(r);
    }
    return Status::Ok();
  }
  Status WriteAtV(uint64_t offset, const ByteSpan* pieces, size_t count) override {
    constexpr size_t kMaxPieces = 8;
    if (count > kMaxPieces) return File::WriteAtV(offset, pieces, count);
    iovec iov[kMaxPieces];
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
      iov[i] = {const_cast<uint8_t*>(pieces[i].data()), pieces[i].size()};
      total += pieces[i].size();
    }
    iovec* next = iov;
    int left = int(count);
    for (size_t done = 0; done < total;) {
      ssize_t r = ::pwritev(fd_, next, left, off_t(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path_ + " at " + std::to_string(offset + done));
      }
      done += size_t(r);
      // Skip what was written: whole pieces, then part of the next (a short write).
      size_t n = size_t(r);
      while (left > 0 && n >= next->iov_len) {
        n -= next->iov_len;
        ++next;
        --left;
      }
      if (left > 0) {
        next->iov_base = static_cast<char*>(next->iov_base) + n;
        next->iov_len -= n;
      }
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fsync " + path_);
    return Status::Ok();
  }
  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
    return uint64_t(st.st_size);
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, off_t(size)) != 0) return Status::FromErrno(errno, "truncate " + path_);
    return Status::Ok();
  }
  Status PunchHole(uint64_t offset, uint64_t len) override {
    if (len == 0) return Status::Ok();
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(len)) ==
        0)
      return Status::Ok();
    if (errno != EOPNOTSUPP) return Status::FromErrno(errno, "punch hole in " + path_);
    // No hole support: write zeros instead.
    std::string zeros(std::min<uint64_t>(len, 1 << 20), '\0');
    for (uint64_t done = 0; done < len;) {
      size_t n = size_t(std::min<uint64_t>(zeros.size(), len - done));
      LL_RETURN_IF_ERROR(WriteAt(offset + done, zeros.data(), n));
      done += n;
    }
    return Status::Ok();
  }
  Result<std::pair<uint64_t, uint64_t>> NextData(uint64_t offset) override {
    LL_ASSIGN_OR_RETURN(uint64_t size, Size());
    if (offset >= size) return std::pair{size, size};
    off_t d = ::lseek(fd_, off_t(offset), SEEK_DATA);
    if (d < 0) {
      if (errno == ENXIO) return std::pair{size, size};
      if (errno == EINVAL) return std::pair{offset, size};  // no SEEK_DATA support
      return Status::FromErrno(errno, "seek data in " + path_);
    }
    off_t h = ::lseek(fd_, d, SEEK_HOLE);
    if (h < 0) return Status::FromErrno(errno, "seek hole in " + path_);
    return std::pair{uint64_t(d), uint64_t(h)};
  }
  int fd() const override { return fd_; }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT; break;
      case OpenMode::kCreateNew: flags |= O_RDWR | O_CREAT | O_EXCL; break;
      case OpenMode::kTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }
  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Status::FromErrno(errno, "list " + dir);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(d);
    return out;
  }
  Status MakeDirs(const std::string& path) override {
    if (path.empty() || Exists(path)) return Status::Ok();
    std::string parent = DirName(path);
    if (parent != path && parent != "." && parent != "/") LL_RETURN_IF_ERROR(MakeDirs(parent));
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "mkdir " + path);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
    return Status::Ok();
  }
  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return Status::FromErrno(errno, "rmdir " + path);
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno(errno, "rename " + from + " to " + to);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open dir " + dir);
    int r = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (r != 0) return Status::FromErrno(err, "fsync dir " + dir);
    return Status::Ok();
  }
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open lock " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        return Status::Busy(path + " is locked by another process (is a vault already running?)");
      return Status::FromErrno(err, "lock " + path);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
};

}  // namespace

FileSystem* FileSystem::Posix() {
  static PosixFileSystem fs;
  return &fs;
}

}  // namespace lifeline
