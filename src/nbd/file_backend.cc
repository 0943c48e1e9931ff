// FileBackend implementation; see file_backend.h. Thread-safe: positional syscalls only.
#include "nbd/file_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "nbd/protocol.h"

namespace lifeline::nbd {
namespace {

bool IsUnsupported(int err) { return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL; }

}  // namespace

Result<std::unique_ptr<FileBackend>> FileBackend::Open(const std::string& path, bool read_only) {
  int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("image " + path + " does not exist");
    return Status::FromErrno(err, "open " + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + path);
  }
  uint64_t size = uint64_t(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "BLKGETSIZE64 " + path);
    }
  } else if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is neither a regular file nor a block device");
  }
  return std::unique_ptr<FileBackend>(new FileBackend(fd, size, path));
}

FileBackend::~FileBackend() { ::close(fd_); }

Status FileBackend::Read(uint64_t offset, MutableByteSpan out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path_);
    }
    if (n == 0) {  // the file shrank under us: the rest reads as zeros
      std::fill(out.begin() + done, out.end(), 0);
      break;
    }
    done += size_t(n);
  }
  return Status::Ok();
}

Status FileBackend::Write(uint64_t offset, ByteSpan data, bool fua) {
  size_t done = 0;
  // RWF_DSYNC makes this one write durable without flushing the whole file.
  int flags = fua ? RWF_DSYNC : 0;
  while (done < data.size()) {
    iovec iov{const_cast<uint8_t*>(data.data() + done), data.size() - done};
    ssize_t n = ::pwritev2(fd_, &iov, 1, off_t(offset + done), flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (flags != 0 && errno == EOPNOTSUPP) {  // old kernel: write, then sync below
        flags = 0;
        continue;
      }
      return Status::FromErrno(errno, "write " + path_);
    }
    done += size_t(n);
  }
  if (fua && flags == 0) return Flush();
  return Status::Ok();
}

Status FileBackend::Flush() {
  if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
  return Status::Ok();
}

Status FileBackend::Trim(uint64_t offset, uint64_t length, bool fua) {
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset),
                  off_t(length)) != 0) {
    // Trim is advisory: a file system without hole punching simply keeps the data.
    if (!IsUnsupported(errno)) return Status::FromErrno(errno, "punch hole " + path_);
  }
  return fua ? Flush() : Status::Ok();
}

Status FileBackend::WriteZeroBuffer(uint64_t offset, uint64_t length) {
  static const std::vector<uint8_t> kZeros(1 << 20, 0);
  while (length > 0) {
    size_t n = size_t(std::min<uint64_t>(length, kZeros.size()));
    LL_RETURN_IF_ERROR(Write(offset, ByteSpan(kZeros.data(), n), false));
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status FileBackend::WriteZeroes(uint64_t offset, uint64_t length, ZeroMode mode, bool fua) {
  bool done = false;
  if (mode.may_trim &&
      ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset),
                  off_t(length)) == 0) {
    done = true;
  }
  if (!done && ::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off_t(offset),
                           off_t(length)) == 0) {
    done = true;
  }
  if (!done) {
    if (!IsUnsupported(errno)) return Status::FromErrno(errno, "zero range " + path_);
    if (mode.fast) return Status::FailedPrecondition("no fast zeroing on " + path_);
    LL_RETURN_IF_ERROR(WriteZeroBuffer(offset, length));
  }
  return fua ? Flush() : Status::Ok();
}

Status FileBackend::BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                                std::vector<Extent>* out) {
  out->clear();
  uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end && out->size() < max_extents) {
    off_t data = ::lseek(fd_, off_t(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) {  // no data after pos: the rest is a hole
        out->push_back({end - pos, kStateHole | kStateZero});
        break;
      }
      // No SEEK_DATA support: everything is data, which is always a safe answer.
      out->push_back({end - pos, 0});
      break;
    }
    if (uint64_t(data) > pos) {
      uint64_t hole_end = std::min<uint64_t>(uint64_t(data), end);
      out->push_back({hole_end - pos, kStateHole | kStateZero});
      pos = hole_end;
      continue;
    }
    off_t hole = ::lseek(fd_, off_t(pos), SEEK_HOLE);
    uint64_t data_end = hole < 0 ? end : std::min<uint64_t>(uint64_t(hole), end);
    if (data_end <= pos) data_end = end;  // defensive: never emit an empty extent
    out->push_back({data_end - pos, 0});
    pos = data_end;
  }
  return Status::Ok();
}

}  // namespace lifeline::nbd
