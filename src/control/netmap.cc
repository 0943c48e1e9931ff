#include "control/netmap.h"

#include <arpa/inet.h>

#include <charconv>

namespace lifeline::control {
namespace {

using U128 = unsigned __int128;

U128 ToNumber(const IpAddress& ip) {
  U128 v = 0;
  int n = ip.v6 ? 16 : 4;
  for (int i = 0; i < n; ++i) v = (v << 8) | ip.bytes[static_cast<size_t>(i)];
  return v;
}

IpAddress FromNumber(U128 v, bool v6) {
  IpAddress ip;
  ip.v6 = v6;
  int n = v6 ? 16 : 4;
  for (int i = n - 1; i >= 0; --i) {
    ip.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  return ip;
}

U128 HostMask(int bits, int prefix_len) {
  int host_bits = bits - prefix_len;
  if (host_bits <= 0) return 0;
  if (host_bits >= 128) return ~U128{0};
  return (U128{1} << host_bits) - 1;
}

}  // namespace

std::string_view NetworkModeName(NetworkMode m) {
  return m == NetworkMode::kDrill ? "drill" : "recovery";
}

Result<NetworkMode> ParseNetworkMode(std::string_view name) {
  if (name == "recovery") return NetworkMode::kRecovery;
  if (name == "drill") return NetworkMode::kDrill;
  return Status::InvalidArgument("network mode must be recovery or drill, not '" +
                                 std::string(name.substr(0, 64)) + "'");
}

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text.substr(0, 64));
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.v6 = true;
    return ip;
  }
  return Status::InvalidArgument("'" + s + "' is not an IPv4 or IPv6 address");
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    return Status::InvalidArgument("'" + std::string(text) + "' is not a CIDR (address/prefix)");
  LL_ASSIGN_OR_RETURN(IpAddress ip, IpAddress::Parse(text.substr(0, slash)));
  std::string_view len = text.substr(slash + 1);
  int prefix = -1;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
  int bits = ip.v6 ? 128 : 32;
  if (ec != std::errc() || p != len.data() + len.size() || prefix < 0 || prefix > bits) {
    return Status::InvalidArgument("'" + std::string(text) + "': prefix length must be 0.." +
                                   std::to_string(bits));
  }
  Cidr c{ip, prefix};
  if ((ToNumber(ip) & HostMask(bits, prefix)) != 0) {
    Cidr fixed{FromNumber(ToNumber(ip) & ~HostMask(bits, prefix), ip.v6), prefix};
    return Status::InvalidArgument("'" + std::string(text) + "' has host bits set (did you mean " +
                                   fixed.ToString() + "?)");
  }
  return c;
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix_len); }

bool Cidr::Contains(const IpAddress& ip) const {
  if (ip.v6 != network.v6) return false;
  U128 mask = ~HostMask(Bits(), prefix_len);
  if (!network.v6) mask &= 0xffffffffu;
  return (ToNumber(ip) & mask) == ToNumber(network);
}

Status NetworkMap::Check(const NetworkMapping& m) {
  if (m.source.empty()) return Status::InvalidArgument("network mapping without a source network");
  for (const TargetNetwork* t : {&m.recovery, &m.drill}) {
    if (t->name.empty())
      return Status::InvalidArgument("network mapping " + m.source +
                                     ": target network without a name");
    if (t->gateway && !t->subnet.Contains(*t->gateway)) {
      return Status::InvalidArgument("network " + t->name + ": gateway " + t->gateway->ToString() +
                                     " is outside " + t->subnet.ToString());
    }
    for (const IpAddress& r : t->reserved) {
      if (!t->subnet.Contains(r)) {
        return Status::InvalidArgument("network " + t->name + ": reserved address " +
                                       r.ToString() + " is outside " + t->subnet.ToString());
      }
    }
  }
  return Status::Ok();
}

Status NetworkMap::AddMapping(NetworkMapping m) {
  LL_RETURN_IF_ERROR(Check(m));
  if (!mappings_.emplace(m.source, m).second) {
    return Status::InvalidArgument("source network " + m.source + " is mapped twice");
  }
  return Status::Ok();
}

Status NetworkMap::AddStaticRule(StaticIpRule rule) {
  for (const StaticIpRule& r : rules_) {
    if (r.machine == rule.machine && r.nic_index == rule.nic_index && r.mode == rule.mode) {
      return Status::InvalidArgument("two static rules for " + rule.machine + " NIC " +
                                     std::to_string(rule.nic_index) + " (" +
                                     std::string(NetworkModeName(rule.mode)) + ")");
    }
  }
  rules_.push_back(rule);
  return Status::Ok();
}

Result<std::vector<NicAssignment>> NetworkMap::Assign(NetworkMode mode,
                                                      const std::vector<NicRequest>& nics,
                                                      const std::set<IpAddress>& in_use) const {
  std::set<IpAddress> taken = in_use;
  std::vector<NicAssignment> out;
  for (const NicRequest& nic : nics) {
    std::string who = nic.machine + " NIC " + std::to_string(nic.nic_index);
    auto it = mappings_.find(nic.source_network);
    if (it == mappings_.end()) {
      return Status::NotFound(who + ": source network " + nic.source_network +
                              " has no mapping: add one with `lifeline netmap add " +
                              nic.source_network + " ...`");
    }
    const TargetNetwork& target =
        mode == NetworkMode::kDrill ? it->second.drill : it->second.recovery;
    const Cidr& subnet = target.subnet;
    auto is_free = [&](const IpAddress& ip) {
      return !taken.count(ip) && !target.reserved.count(ip) &&
             !(target.gateway && *target.gateway == ip);
    };
    NicAssignment a;
    a.machine = nic.machine;
    a.nic_index = nic.nic_index;
    a.network = target.name;
    a.prefix_len = subnet.prefix_len;
    a.gateway = target.gateway;
    bool done = false;
    if (nic.source_ip && subnet.Contains(*nic.source_ip) && is_free(*nic.source_ip)) {
      a.ip = *nic.source_ip;
      a.reason = "kept";
      done = true;
    }
    if (!done) {
      for (const StaticIpRule& r : rules_) {
        if (r.machine != nic.machine || r.nic_index != nic.nic_index || r.mode != mode) continue;
        if (!subnet.Contains(r.ip)) {
          return Status::FailedPrecondition(who + ": static rule address " + r.ip.ToString() +
                                            " is outside " + target.name + " (" +
                                            subnet.ToString() + ")");
        }
        if (!is_free(r.ip)) {
          return Status::FailedPrecondition(who + ": static rule address " + r.ip.ToString() +
                                            " is already taken in " + target.name);
        }
        a.ip = r.ip;
        a.reason = "static rule";
        done = true;
        break;
      }
    }
    if (!done) {
      int bits = subnet.Bits();
      U128 base = ToNumber(subnet.network);
      U128 last = base | HostMask(bits, subnet.prefix_len);
      U128 first = base;
      // IPv4 keeps the network and broadcast addresses out (except /31 and /32 links);
      // IPv6 keeps the subnet-router anycast address (host part zero) out.
      if (!subnet.network.v6 && subnet.prefix_len <= 30) {
        first = base + 1;
        last = last - 1;
      } else if (subnet.network.v6 && subnet.prefix_len <= 126) {
        first = base + 1;
      }
      // Bounded: at most |taken| + |reserved| + 1 candidates are busy before a free one.
      size_t budget = taken.size() + target.reserved.size() + 2;
      for (U128 v = first; v <= last && budget > 0; ++v, --budget) {
        IpAddress ip = FromNumber(v, subnet.network.v6);
        if (is_free(ip)) {
          a.ip = ip;
          a.reason = "next free";
          done = true;
          break;
        }
        if (v == last) break;
      }
      if (!done) {
        return Status::NoSpace(who + ": no free address left in " + target.name + " (" +
                               subnet.ToString() + ")");
      }
    }
    taken.insert(a.ip);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace lifeline::control
