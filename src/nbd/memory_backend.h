// MemoryBackend: an nbd::Backend held in memory, for tests and fuzzing. Tracks which
// 4 KiB pages were ever written so base:allocation has holes to report, and counts calls.
// Thread-safe: one mutex around every operation.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "nbd/backend.h"

namespace lifeline::nbd {

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(uint64_t size_bytes);

  uint64_t size() const override { return data_.size(); }
  Status Read(uint64_t offset, MutableByteSpan out) override;
  Status Write(uint64_t offset, ByteSpan data, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length, bool fua) override;
  Status WriteZeroes(uint64_t offset, uint64_t length, ZeroMode mode, bool fua) override;
  Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                     std::vector<Extent>* out) override;

  // Test hooks.
  std::vector<uint8_t> Snapshot() const;
  int flushes() const { return flushes_.load(); }
  int fua_writes() const { return fua_writes_.load(); }

 private:
  static constexpr uint64_t kPageBytes = 4096;
  void MarkPages(uint64_t offset, uint64_t length, bool allocated);

  mutable std::mutex mu_;
  std::vector<uint8_t> data_;
  std::vector<bool> allocated_;  // per page
  std::atomic<int> flushes_{0};
  std::atomic<int> fua_writes_{0};
};

}  // namespace lifeline::nbd
