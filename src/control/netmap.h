// Network mapping for recovered machines: each source network maps to a recovery network
// and a drill network (a subnet each). A NIC keeps its IP when the target subnet holds it
// and it is free; else a static rule for that NIC applies; else it takes the next free host
// address. IPv4 and IPv6. Value types and pure functions; thread-compatible.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lifeline::control {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes

  static Result<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress network;  // host bits zero
  int prefix_len = 0;

  // "10.1.0.0/24" or "fd00::/64"; host bits must be zero.
  static Result<Cidr> Parse(std::string_view text);
  std::string ToString() const;
  bool Contains(const IpAddress& ip) const;
  int Bits() const { return network.v6 ? 128 : 32; }
};

struct TargetNetwork {
  std::string name;
  Cidr subnet;
  std::optional<IpAddress> gateway;  // never assigned to a NIC
  std::set<IpAddress> reserved;      // never assigned to a NIC
};

struct NetworkMapping {
  std::string source;  // source network name
  TargetNetwork recovery;
  TargetNetwork drill;
};

enum class NetworkMode : uint8_t { kRecovery, kDrill };
std::string_view NetworkModeName(NetworkMode mode);  // "recovery" | "drill"
Result<NetworkMode> ParseNetworkMode(std::string_view name);

struct StaticIpRule {
  std::string machine;
  int nic_index = 0;
  NetworkMode mode = NetworkMode::kRecovery;
  IpAddress ip;
};

struct NicRequest {
  std::string machine;
  int nic_index = 0;
  std::string source_network;
  std::optional<IpAddress> source_ip;  // none: the NIC used DHCP
};

struct NicAssignment {
  std::string machine;
  int nic_index = 0;
  std::string network;  // target network name
  IpAddress ip;
  int prefix_len = 0;
  std::optional<IpAddress> gateway;
  std::string reason;  // "kept", "static rule", "next free"
};

class NetworkMap {
 public:
  // InvalidArgument for a mapping without names, or with a gateway or a reserved address
  // outside its subnet.
  static Status Check(const NetworkMapping& mapping);
  // InvalidArgument for a duplicate source, a family mix, or a gateway outside its subnet.
  Status AddMapping(NetworkMapping mapping);
  // InvalidArgument when the rule's IP is outside the target subnet of that NIC's network
  // is only known at Assign time, so it is checked there.
  Status AddStaticRule(StaticIpRule rule);

  // Assigns an address to every NIC, in request order. `in_use` holds addresses taken in
  // the target networks (other machines); addresses given earlier in the same call count
  // as taken too. NotFound for an unmapped source network; NoSpace when a subnet is full;
  // FailedPrecondition when a static rule's address is taken or outside the subnet.
  Result<std::vector<NicAssignment>> Assign(NetworkMode mode, const std::vector<NicRequest>& nics,
                                            const std::set<IpAddress>& in_use) const;

  const std::map<std::string, NetworkMapping>& mappings() const { return mappings_; }
  const std::vector<StaticIpRule>& static_rules() const { return rules_; }

 private:
  std::map<std::string, NetworkMapping> mappings_;
  std::vector<StaticIpRule> rules_;
};

}  // namespace lifeline::control
