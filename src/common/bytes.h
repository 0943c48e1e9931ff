// Fixed-width integer encoding (little-endian for lifeline's own formats, big-endian for
// NBD) and a bounds-checked reader. Header-only; thread-compatible.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace lifeline {

using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline void PutLE16(uint8_t* p, uint16_t v) { for (int i = 0; i < 2; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline void PutLE32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline void PutLE64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline uint16_t GetLE16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t GetLE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetLE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline void PutBE16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void PutBE32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i)); }
inline void PutBE64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (56 - 8 * i)); }
inline uint16_t GetBE16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t GetBE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetBE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Appends little-endian fields to a byte string.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(char(v)); }
  void U16(uint16_t v) { uint8_t b[2]; PutLE16(b, v); Raw(b, 2); }
  void U32(uint32_t v) { uint8_t b[4]; PutLE32(b, v); Raw(b, 4); }
  void U64(uint64_t v) { uint8_t b[8]; PutLE64(b, v); Raw(b, 8); }
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  void Str(std::string_view s) { U32(uint32_t(s.size())); Raw(s.data(), s.size()); }

 private:
  std::string* out_;
};

// Reads little-endian fields; every read is bounds-checked and sets ok() false on underrun
// instead of reading past the end, so parsers of untrusted input stay simple.
class ByteReader {
 public:
  ByteReader(const void* data, size_t size) : p_(static_cast<const uint8_t*>(data)), n_(size) {}
  explicit ByteReader(std::string_view s) : ByteReader(s.data(), s.size()) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return n_ - pos_; }
  size_t position() const { return pos_; }
  uint8_t U8() { return Need(1) ? p_[pos_++] : 0; }
  uint16_t U16() { return Need(2) ? Advance(GetLE16(p_ + pos_), 2) : 0; }
  uint32_t U32() { return Need(4) ? Advance(GetLE32(p_ + pos_), 4) : 0; }
  uint64_t U64() { return Need(8) ? Advance(GetLE64(p_ + pos_), 8) : 0; }
  std::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string_view Str(size_t max_size) {
    uint32_t n = U32();
    if (n > max_size) { ok_ = false; return {}; }
    return Bytes(n);
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || n_ - pos_ < n) { ok_ = false; return false; }
    return true;
  }
  template <typename T>
  T Advance(T v, size_t n) { pos_ += n; return v; }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace lifeline
