// Checksums: XXH3-64 for blocks (content hashes, resync comparison) and for records
// (journal, frames, manifests). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lifeline {

uint64_t Xxh3(const void* data, size_t size, uint64_t seed = 0);
inline uint64_t Xxh3(std::string_view s, uint64_t seed = 0) { return Xxh3(s.data(), s.size(), seed); }
uint32_t Xxh32(const void* data, size_t size, uint32_t seed = 0);

// Streaming XXH3-64 over several pieces (a header then a payload) without copying.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void Update(const void* data, size_t size);
  uint64_t Digest() const;

 private:
  void* state_;
};

// True when every byte of the buffer is zero (used to send zero blocks as ZERO records).
bool IsAllZero(const void* data, size_t size);

}  // namespace lifeline
