// IPv4 and IPv6 prefixes (CIDR) and addresses for the network model: strict parsing,
// containment and overlap. Value types; thread-compatible.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline::net {

class IpPrefix {
 public:
  IpPrefix() = default;

  // Parses "10.1.0.0/24" or "2001:db8::/64". Strict: the host bits must be zero (the error
  // names the canonical prefix), the length must fit the family.
  static Result<IpPrefix> Parse(std::string_view text);
  // Parses a bare address ("10.10.10.10", "2001:db8::1") as a full-length prefix.
  static Result<IpPrefix> ParseAddress(std::string_view text);
  // Builds a prefix from raw bytes, clearing host bits.
  static IpPrefix FromBytes(bool v6, const std::array<uint8_t, 16>& bytes, int length);

  bool v6() const { return v6_; }
  int length() const { return length_; }
  int max_length() const { return v6_ ? 128 : 32; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }

  std::string ToString() const;       // "10.1.0.0/24"
  std::string AddressString() const;  // "10.1.0.0"
  // The same texts appended to `out`, without a temporary (route tables print millions).
  void AppendTo(std::string* out) const;
  void AppendAddressTo(std::string* out) const;

  // True when every address of `other` is inside this prefix (same family only).
  bool Contains(const IpPrefix& other) const;
  bool Overlaps(const IpPrefix& other) const { return Contains(other) || other.Contains(*this); }
  bool IsDefault() const { return length_ == 0; }
  bool IsRfc1918() const;  // inside 10/8, 172.16/12 or 192.168/16
  // The last address of the prefix as a full-length prefix (for range scans).
  IpPrefix LastAddress() const;
  // The n-th prefix of `new_length` inside this one (n counted from 0); REQUIRES: fits.
  IpPrefix Subprefix(int new_length, uint64_t n) const;
  // The prefix of the same length right after this one; false if it wraps.
  bool Next(IpPrefix* out) const;

  // Orders by family, then address, then length: a prefix sorts before everything it contains.
  std::strong_ordering operator<=>(const IpPrefix& o) const;
  bool operator==(const IpPrefix& o) const = default;

 private:
  bool v6_ = false;
  uint8_t length_ = 0;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4 bytes
};

}  // namespace lifeline::net
