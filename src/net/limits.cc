// The tables behind limits.h; each number cites its source id in expressroute-rules.md.
#include "net/limits.h"

#include <algorithm>
#include <cctype>

namespace lifeline::net {
namespace {
std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

bool IsErGatewaySku(const std::string& sku) {
  static const char* kSkus[] = {"ErGwScale", "Standard", "HighPerformance", "UltraPerformance",
                                "ErGw1AZ",   "ErGw2AZ",  "ErGw3AZ"};
  for (const char* k : kSkus)
    if (Lower(sku) == Lower(k)) return true;
  return false;
}

bool IsVpnGatewaySku(const std::string& sku) {
  static const char* kSkus[] = {"Basic",    "Standard", "HighPerformance", "VpnGw1",   "VpnGw2",
                                "VpnGw3",   "VpnGw4",   "VpnGw5",          "VpnGw1AZ", "VpnGw2AZ",
                                "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"};
  for (const char* k : kSkus)
    if (sku == k) return true;
  return false;
}

bool IsAzGatewaySku(const std::string& sku) {
  std::string s = Lower(sku);
  return s == "ergwscale" || (s.size() > 2 && s.substr(s.size() - 2) == "az");
}

int ErGatewayMaxCircuits(const Gateway& g) {
  std::string s = Lower(g.sku);
  if (s == "standard" || s == "ergw1az") return 4;
  if (s == "highperformance" || s == "ergw2az") return 8;
  if (s == "ultraperformance" || s == "ergw3az") return 16;
  if (s == "ergwscale") return g.scale_units >= 10 ? 16 : g.scale_units >= 2 ? 8 : 4;
  return 4;
}

int64_t ErGatewayMbps(const Gateway& g) {
  std::string s = Lower(g.sku);
  if (s == "standard" || s == "ergw1az") return 1000;
  if (s == "highperformance" || s == "ergw2az") return 2000;
  if (s == "ultraperformance" || s == "ergw3az") return 10000;
  if (s == "ergwscale") return 1000LL * std::max(1, g.scale_units);
  return 0;
}

bool ErGatewaySupportsFastPath(const Gateway& g) {
  std::string s = Lower(g.sku);
  return s == "ultraperformance" || s == "ergw3az" || (s == "ergwscale" && g.scale_units >= 10);
}

bool CircuitBandwidthAllowed(const Circuit& c, std::string* allowed) {
  std::vector<int64_t> ok;
  if (c.direct_port_gbps == 0) {
    ok = {50, 100, 200, 500, 1000, 2000, 5000, 10000};  // CIRC, FAQ
    *allowed = "50, 100, 200, 500 Mbps, 1, 2, 5, 10 Gbps (provider circuit)";
  } else if (c.direct_port_gbps == 10) {
    ok = {1000, 2000, 5000, 10000};  // DIRECT
    *allowed = "1, 2, 5, 10 Gbps (ExpressRoute Direct 10G port)";
  } else if (c.direct_port_gbps == 100) {
    ok = {5000, 10000, 40000, 100000};  // DIRECT, LIM
    *allowed = "5, 10, 40, 100 Gbps (ExpressRoute Direct 100G port)";
  } else if (c.direct_port_gbps == 400) {
    ok = {40000, 100000, 200000, 400000};  // CIRC 2026
    *allowed = "40, 100, 200, 400 Gbps (ExpressRoute Direct 400G port)";
  } else {
    *allowed = "Direct ports of 10, 100 or 400 Gbps";
    return false;
  }
  return std::find(ok.begin(), ok.end(), c.bandwidth_mbps) != ok.end();
}

bool IsPremium(const Circuit& c) { return c.sku.tier == "Premium"; }
bool IsLocal(const Circuit& c) { return c.sku.tier == "Local"; }

int CircuitLinkLimit(const Circuit& c) {
  if (!IsPremium(c)) return 10;  // Local and Standard (LIM table 2.2)
  int64_t b = c.bandwidth_mbps;
  if (b <= 50) return 20;
  if (b <= 200) return 25;
  if (b <= 500) return 40;
  if (b <= 1000) return 50;
  if (b <= 2000) return 60;
  if (b <= 5000) return 75;
  return 100;
}

int AdvertiseLimit(const Circuit& c, const CircuitPeering& p, bool v6) {
  if (p.type == PeeringType::kMicrosoft) return 200;  // LIM, ROUT (per session, v4 and v6)
  if (v6) return 100;                                 // LIM
  return IsPremium(c) ? 10000 : 4000;                 // LIM, ROUT
}

bool ReservedAsn(uint32_t asn, std::string* why) {
  if (asn == 8074 || asn == 8075 || asn == 12076) {
    *why = "reserved by Azure (public ASNs 8074, 8075, 12076)";
    return true;
  }
  if (asn >= 65515 && asn <= 65520) {
    *why = "reserved by Microsoft for internal use (65515-65520)";
    return true;
  }
  if (asn == 23456 || (asn >= 64496 && asn <= 64511) || (asn >= 65535 && asn <= 65551) ||
      asn == 4294967295u) {
    *why = "reserved by IANA (23456, 64496-64511, 65535-65551, 4294967295)";
    return true;
  }
  return false;
}

}  // namespace lifeline::net
