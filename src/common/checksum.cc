#include "common/checksum.h"

#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include <cstring>

namespace lifeline {

// The _dispatch variants pick the widest vector unit the CPU has (AVX2, AVX-512) at run
// time; the plain ones are built for baseline x86-64 (SSE2) and hash about half as fast.
// Same values either way.
uint64_t Xxh3(const void* data, size_t size, uint64_t seed) {
  return XXH3_64bits_withSeed_dispatch(data, size, seed);
}

uint32_t Xxh32(const void* data, size_t size, uint32_t seed) { return XXH32(data, size, seed); }

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) {
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh3Stream::~Xxh3Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3Stream::Update(const void* data, size_t size) {
  XXH3_64bits_update_dispatch(static_cast<XXH3_state_t*>(state_), data, size);
}
uint64_t Xxh3Stream::Digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

bool IsAllZero(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  // Word-at-a-time scan; the compiler vectorizes the inner OR loop.
  size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    uint64_t acc = 0;
    uint64_t w[8];
    std::memcpy(w, p + i, 64);
    for (uint64_t x : w) acc |= x;
    if (acc != 0) return false;
  }
  for (; i < size; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace lifeline
