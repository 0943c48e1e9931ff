// Big-endian helpers for building and parsing NBD messages in std::string buffers.
// Header-only; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace lifeline::nbd {

inline void AppendBE16(std::string* s, uint16_t v) { uint8_t b[2]; PutBE16(b, v); s->append(reinterpret_cast<char*>(b), 2); }
inline void AppendBE32(std::string* s, uint32_t v) { uint8_t b[4]; PutBE32(b, v); s->append(reinterpret_cast<char*>(b), 4); }
inline void AppendBE64(std::string* s, uint64_t v) { uint8_t b[8]; PutBE64(b, v); s->append(reinterpret_cast<char*>(b), 8); }

// Bounds-checked big-endian reader over untrusted bytes: an underrun sets ok() false and
// yields zeros, so parsers check ok() once at the end.
class BeReader {
 public:
  explicit BeReader(std::string_view s) : p_(reinterpret_cast<const uint8_t*>(s.data())), n_(s.size()) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return n_ - pos_; }
  uint16_t U16() { return Need(2) ? Take(GetBE16(p_ + pos_), 2) : 0; }
  uint32_t U32() { return Need(4) ? Take(GetBE32(p_ + pos_), 4) : 0; }
  uint64_t U64() { return Need(8) ? Take(GetBE64(p_ + pos_), 8) : 0; }
  std::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    std::string_view v(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return v;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || n_ - pos_ < n) { ok_ = false; return false; }
    return true;
  }
  template <typename T>
  T Take(T v, size_t n) { pos_ += n; return v; }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace lifeline::nbd
