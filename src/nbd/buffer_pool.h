// BufferPool: recycles the large payload buffers of READ and WRITE requests. Fresh
// allocations of 128 KiB or more come from mmap and cost a page fault per 4 KiB on first
// touch, which halves large-block throughput; reusing them avoids that. Bounded: at most
// `max_cached_bytes` sit idle in the pool. Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace lifeline::nbd {

class BufferPool;

struct PoolDeleter {
  BufferPool* pool = nullptr;  // null: plain delete[]
  size_t capacity = 0;
  void operator()(uint8_t* p) const;
};
using PooledBuffer = std::unique_ptr<uint8_t[], PoolDeleter>;

class BufferPool {
 public:
  explicit BufferPool(size_t max_cached_bytes = 256u << 20) : max_cached_bytes_(max_cached_bytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `n` bytes (contents undefined).
  PooledBuffer Get(size_t n);
  // Without a pool: a plain heap buffer.
  static PooledBuffer Plain(size_t n) { return PooledBuffer(new uint8_t[n], PoolDeleter{}); }

 private:
  friend struct PoolDeleter;
  static constexpr size_t kMinPooledBytes = 64 << 10;
  static constexpr int kClasses = 16;  // 64 KiB << 0 .. 64 KiB << 15 (2 GiB)
  void Put(uint8_t* p, size_t capacity);

  std::mutex mu_;
  std::vector<uint8_t*> free_[kClasses];
  size_t cached_bytes_ = 0;
  size_t max_cached_bytes_;
};

}  // namespace lifeline::nbd
