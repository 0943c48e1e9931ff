// MemoryBackend implementation; see memory_backend.h. Thread-safe (one mutex).
#include "nbd/memory_backend.h"

#include <algorithm>
#include <cstring>

#include "nbd/protocol.h"

namespace lifeline::nbd {

MemoryBackend::MemoryBackend(uint64_t size_bytes)
    : data_(size_bytes, 0), allocated_((size_bytes + kPageBytes - 1) / kPageBytes, false) {}

void MemoryBackend::MarkPages(uint64_t offset, uint64_t length, bool allocated) {
  if (allocated) {
    for (uint64_t p = offset / kPageBytes; p * kPageBytes < offset + length; ++p) {
      allocated_[p] = true;
    }
  } else {  // only pages wholly inside the range become holes
    for (uint64_t p = (offset + kPageBytes - 1) / kPageBytes;
         (p + 1) * kPageBytes <= offset + length; ++p) {
      allocated_[p] = false;
    }
  }
}

Status MemoryBackend::Read(uint64_t offset, MutableByteSpan out) {
  std::lock_guard lock(mu_);
  if (offset > data_.size() || out.size() > data_.size() - offset) {
    return Status::InvalidArgument("read past the end");
  }
  std::memcpy(out.data(), data_.data() + offset, out.size());
  return Status::Ok();
}

Status MemoryBackend::Write(uint64_t offset, ByteSpan data, bool fua) {
  std::lock_guard lock(mu_);
  if (offset > data_.size() || data.size() > data_.size() - offset) {
    return Status::NoSpace("write past the end");
  }
  std::memcpy(data_.data() + offset, data.data(), data.size());
  MarkPages(offset, data.size(), true);
  if (fua) fua_writes_++;
  return Status::Ok();
}

Status MemoryBackend::Flush() {
  flushes_++;
  return Status::Ok();
}

Status MemoryBackend::Trim(uint64_t offset, uint64_t length, bool fua) {
  return WriteZeroes(offset, length, ZeroMode{true, false}, fua);
}

Status MemoryBackend::WriteZeroes(uint64_t offset, uint64_t length, ZeroMode mode, bool) {
  std::lock_guard lock(mu_);
  if (offset > data_.size() || length > data_.size() - offset) {
    return Status::NoSpace("zero past the end");
  }
  std::memset(data_.data() + offset, 0, length);
  MarkPages(offset, length, !mode.may_trim);
  return Status::Ok();
}

Status MemoryBackend::BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                                  std::vector<Extent>* out) {
  std::lock_guard lock(mu_);
  out->clear();
  uint64_t end = std::min<uint64_t>(offset + length, data_.size());
  uint64_t pos = offset;
  while (pos < end && out->size() < max_extents) {
    bool alloc = allocated_[pos / kPageBytes];
    uint64_t next = pos;
    while (next < end && allocated_[next / kPageBytes] == alloc) {
      next = std::min<uint64_t>((next / kPageBytes + 1) * kPageBytes, end);
    }
    out->push_back({next - pos, alloc ? 0u : (kStateHole | kStateZero)});
    pos = next;
  }
  return Status::Ok();
}

std::vector<uint8_t> MemoryBackend::Snapshot() const {
  std::lock_guard lock(mu_);
  return data_;
}

}  // namespace lifeline::nbd
