// BufferPool implementation; see buffer_pool.h. Thread-safe (one mutex).
#include "nbd/buffer_pool.h"

namespace lifeline::nbd {
namespace {

int ClassOf(size_t capacity) {
  int c = 0;
  size_t size = 64 << 10;
  while (size < capacity) {
    size <<= 1;
    ++c;
  }
  return c;
}

}  // namespace

void PoolDeleter::operator()(uint8_t* p) const {
  if (pool) {
    pool->Put(p, capacity);
  } else {
    delete[] p;
  }
}

BufferPool::~BufferPool() {
  for (auto& list : free_) {
    for (uint8_t* p : list) delete[] p;
  }
}

PooledBuffer BufferPool::Get(size_t n) {
  if (n < kMinPooledBytes) return Plain(n);
  int c = ClassOf(n);
  if (c >= kClasses) return Plain(n);
  size_t capacity = size_t(kMinPooledBytes) << c;
  {
    std::lock_guard lock(mu_);
    if (!free_[c].empty()) {
      uint8_t* p = free_[c].back();
      free_[c].pop_back();
      cached_bytes_ -= capacity;
      return PooledBuffer(p, PoolDeleter{this, capacity});
    }
  }
  return PooledBuffer(new uint8_t[capacity], PoolDeleter{this, capacity});
}

void BufferPool::Put(uint8_t* p, size_t capacity) {
  {
    std::lock_guard lock(mu_);
    if (cached_bytes_ + capacity <= max_cached_bytes_) {
      free_[ClassOf(capacity)].push_back(p);
      cached_bytes_ += capacity;
      return;
    }
  }
  delete[] p;
}

}  // namespace lifeline::nbd
