// IpPrefix parsing and arithmetic, independent of any socket API (no inet_pton) so that the
// parser behaves the same everywhere and rejects every non-canonical form.
#include "net/prefix.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace lifeline::net {
namespace {

bool ParseV4(std::string_view s, std::array<uint8_t, 16>* out) {
  int part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i || j - i > 3) return false;
    if (j - i > 1 && s[i] == '0') return false;  // no leading zeros (octal ambiguity)
    unsigned v = 0;
    std::from_chars(s.data() + i, s.data() + j, v);
    if (v > 255) return false;
    (*out)[part++] = static_cast<uint8_t>(v);
    if (part < 4) {
      if (j >= s.size() || s[j] != '.') return false;
      i = j + 1;
    } else if (j != s.size()) {
      return false;
    }
  }
  return true;
}

bool ParseHexGroup(std::string_view g, uint16_t* v) {
  if (g.empty() || g.size() > 4) return false;
  unsigned x = 0;
  auto r = std::from_chars(g.data(), g.data() + g.size(), x, 16);
  if (r.ec != std::errc() || r.ptr != g.data() + g.size()) return false;
  *v = static_cast<uint16_t>(x);
  return true;
}

bool ParseV6(std::string_view s, std::array<uint8_t, 16>* out) {
  if (s.size() < 2 || s.size() > 45) return false;
  std::vector<uint16_t> head, tail;
  bool gap = false;
  size_t pos = 0;
  if (s.substr(0, 2) == "::") {
    gap = true;
    pos = 2;
  } else if (s[0] == ':') {
    return false;
  }
  std::vector<uint16_t>* cur = gap ? &tail : &head;
  while (pos < s.size()) {
    size_t end = s.find(':', pos);
    std::string_view g = s.substr(pos, end == std::string_view::npos ? s.npos : end - pos);
    uint16_t v = 0;
    if (!ParseHexGroup(g, &v)) return false;
    cur->push_back(v);
    if (end == std::string_view::npos) break;
    if (end + 1 < s.size() && s[end + 1] == ':') {
      if (gap) return false;
      gap = true;
      cur = &tail;
      pos = end + 2;
    } else {
      if (end + 1 == s.size()) return false;  // trailing single colon
      pos = end + 1;
    }
  }
  size_t groups = head.size() + tail.size();
  if (gap ? groups > 7 : groups != 8) return false;
  out->fill(0);
  for (size_t i = 0; i < head.size(); ++i) {
    (*out)[2 * i] = head[i] >> 8;
    (*out)[2 * i + 1] = head[i] & 0xff;
  }
  for (size_t i = 0; i < tail.size(); ++i) {
    size_t k = 8 - tail.size() + i;
    (*out)[2 * k] = tail[i] >> 8;
    (*out)[2 * k + 1] = tail[i] & 0xff;
  }
  return true;
}

void ClearHostBits(std::array<uint8_t, 16>* b, int length) {
  for (int i = 0; i < 16; ++i) {
    int bits = length - 8 * i;
    if (bits >= 8) continue;
    if (bits <= 0) {
      (*b)[i] = 0;
    } else {
      (*b)[i] &= static_cast<uint8_t>(0xff << (8 - bits));
    }
  }
}

bool ParseAddr(std::string_view s, bool* v6, std::array<uint8_t, 16>* out) {
  out->fill(0);
  *v6 = s.find(':') != std::string_view::npos;
  return *v6 ? ParseV6(s, out) : ParseV4(s, out);
}

}  // namespace

Result<IpPrefix> IpPrefix::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a CIDR prefix (no /length)");
  }
  IpPrefix p;
  if (!ParseAddr(text.substr(0, slash), &p.v6_, &p.bytes_)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a valid IPv4 or IPv6 prefix");
  }
  std::string_view len = text.substr(slash + 1);
  unsigned n = 0;
  auto r = std::from_chars(len.data(), len.data() + len.size(), n);
  if (len.empty() || r.ec != std::errc() || r.ptr != len.data() + len.size() ||
      (len.size() > 1 && len[0] == '0') || n > static_cast<unsigned>(p.max_length())) {
    return Status::InvalidArgument("'" + std::string(text) + "' has an invalid prefix length");
  }
  p.length_ = static_cast<uint8_t>(n);
  std::array<uint8_t, 16> canon = p.bytes_;
  ClearHostBits(&canon, p.length_);
  if (canon != p.bytes_) {
    IpPrefix c = FromBytes(p.v6_, canon, p.length_);
    return Status::InvalidArgument("'" + std::string(text) + "' has host bits set (did you mean " +
                                   c.ToString() + "?)");
  }
  return p;
}

Result<IpPrefix> IpPrefix::ParseAddress(std::string_view text) {
  IpPrefix p;
  if (!ParseAddr(text, &p.v6_, &p.bytes_)) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a valid IP address");
  }
  p.length_ = static_cast<uint8_t>(p.max_length());
  return p;
}

IpPrefix IpPrefix::FromBytes(bool v6, const std::array<uint8_t, 16>& bytes, int length) {
  IpPrefix p;
  p.v6_ = v6;
  p.length_ = static_cast<uint8_t>(length);
  p.bytes_ = bytes;
  if (!v6) std::fill(p.bytes_.begin() + 4, p.bytes_.end(), 0);
  ClearHostBits(&p.bytes_, length);
  return p;
}

void IpPrefix::AppendAddressTo(std::string* out) const {
  if (!v6_) {
    // By hand into a small buffer: route tables print millions of prefixes.
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      unsigned v = bytes_[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
    }
    out->append(buf, p);
    return;
  }
  char buf[64];
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, first one on ties.
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  size_t start = out->size();
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      *out += "::";
      i += best_len - 1;
      continue;
    }
    if (out->size() > start && out->back() != ':') *out += ':';
    std::snprintf(buf, sizeof(buf), "%x", g[i]);
    *out += buf;
  }
}

void IpPrefix::AppendTo(std::string* out) const {
  AppendAddressTo(out);
  char buf[4];
  char* p = buf;
  *p++ = '/';
  unsigned len = length_;
  if (len >= 100) *p++ = static_cast<char>('0' + len / 100);
  if (len >= 10) *p++ = static_cast<char>('0' + len / 10 % 10);
  *p++ = static_cast<char>('0' + len % 10);
  out->append(buf, p);
}

std::string IpPrefix::AddressString() const {
  std::string s;
  s.reserve(v6_ ? 39 : 15);
  AppendAddressTo(&s);
  return s;
}

std::string IpPrefix::ToString() const {
  std::string s;
  s.reserve(v6_ ? 43 : 18);
  AppendTo(&s);
  return s;
}

bool IpPrefix::Contains(const IpPrefix& o) const {
  if (o.v6_ != v6_ || o.length_ < length_) return false;
  // Compare whole bytes, then the partial byte: on the hot path of route selection.
  int full = length_ / 8;
  for (int i = 0; i < full; ++i)
    if (bytes_[i] != o.bytes_[i]) return false;
  int rest = length_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (o.bytes_[full] & mask) == bytes_[full];
}

bool IpPrefix::IsRfc1918() const {
  if (v6_) return false;
  static const IpPrefix k10 = *Parse("10.0.0.0/8");
  static const IpPrefix k172 = *Parse("172.16.0.0/12");
  static const IpPrefix k192 = *Parse("192.168.0.0/16");
  return k10.Contains(*this) || k172.Contains(*this) || k192.Contains(*this);
}

IpPrefix IpPrefix::LastAddress() const {
  IpPrefix p = *this;
  for (int i = 0; i < (v6_ ? 16 : 4); ++i) {
    int bits = length_ - 8 * i;
    if (bits >= 8) continue;
    p.bytes_[i] |= static_cast<uint8_t>(bits <= 0 ? 0xff : (0xff >> bits));
  }
  p.length_ = static_cast<uint8_t>(max_length());
  return p;
}

IpPrefix IpPrefix::Subprefix(int new_length, uint64_t n) const {
  IpPrefix p = *this;
  p.length_ = static_cast<uint8_t>(new_length);
  // Add n at bit position new_length (counting from the most significant bit).
  int bit = new_length - 1;
  while (n != 0 && bit >= 0) {
    if (n & 1) {
      int carry_bit = bit;
      while (carry_bit >= 0) {
        uint8_t mask = static_cast<uint8_t>(0x80 >> (carry_bit % 8));
        uint8_t& byte = p.bytes_[carry_bit / 8];
        byte ^= mask;
        if (byte & mask) break;  // no carry
        --carry_bit;
      }
    }
    n >>= 1;
    --bit;
  }
  return p;
}

bool IpPrefix::Next(IpPrefix* out) const {
  if (length_ == 0) return false;
  IpPrefix p = Subprefix(length_, 1);
  if (p < *this) return false;  // wrapped around
  *out = p;
  return true;
}

std::strong_ordering IpPrefix::operator<=>(const IpPrefix& o) const {
  if (v6_ != o.v6_) return v6_ ? std::strong_ordering::greater : std::strong_ordering::less;
  if (auto c = bytes_ <=> o.bytes_; c != 0) return c;
  return length_ <=> o.length_;
}

}  // namespace lifeline::net
