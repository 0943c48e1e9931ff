// Documented limits and constants (reference/expressroute-rules.md), in one place so that
// checks, routes, simulate and plan agree. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "net/model.h"

namespace lifeline::net {

inline constexpr uint32_t kMicrosoftAsn = 12076;     // MSEE, every peering (CIRC, ROUT)
inline constexpr uint32_t kAzureGatewayAsn = 65515;  // VNet gateways (COEX, VPNBGP)
inline constexpr int kMseeKeepaliveS = 60;           // fixed on the MSEE (FAQ, BFD)
inline constexpr int kMseeHoldS = 180;
inline constexpr int kMseeBfdIntervalMs = 300;  // MSEE never faster (BFD)
inline constexpr int kMseeBfdMultiplier = 3;
inline constexpr int kMinKeepaliveS = 3;  // BFD
inline constexpr int kMinHoldS = 10;
inline constexpr int kMaxEcmpCircuits = 4;                // FAQ 2026
inline constexpr int kMaxCircuitsPerLocationPerVnet = 4;  // LIM, GW

// ExpressRoute gateway SKUs (GWSKU).
bool IsErGatewaySku(const std::string& sku);
// VPN gateway SKUs accepted for coexistence (COEX) plus the AZ and larger generations.
bool IsVpnGatewaySku(const std::string& sku);
bool IsAzGatewaySku(const std::string& sku);  // ErGw1AZ..3AZ, ErGwScale (case-insensitive AZ)
// Circuits (from different locations) one ExpressRoute gateway may connect (LIM, GW).
int ErGatewayMaxCircuits(const Gateway& g);
// Gateway throughput in Mbps (LIM table); 0 if unknown.
int64_t ErGatewayMbps(const Gateway& g);
bool ErGatewaySupportsFastPath(const Gateway& g);

// Bandwidth allowed for the circuit's kind (partner or Direct port); `allowed` lists them.
bool CircuitBandwidthAllowed(const Circuit& c, std::string* allowed);
// VNet links (connections + Global Reach) per circuit (LIM table 2.2).
int CircuitLinkLimit(const Circuit& c);
bool IsPremium(const Circuit& c);
bool IsLocal(const Circuit& c);
// Prefixes the site may advertise on a peering before the session drops (LIM, ROUT).
int AdvertiseLimit(const Circuit& c, const CircuitPeering& p, bool v6);

// True (with the reason) if `asn` may not be used as a peer ASN (PEERCFG, VPNBGP).
bool ReservedAsn(uint32_t asn, std::string* why);

}  // namespace lifeline::net
