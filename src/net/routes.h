// `net routes`: the effective routes of every VNet/subnet and every site router, chosen as
// NETWORK_MODEL.md §3 says. Also the lookup that `net simulate` and the lab build on.
// RouteComputer caches per-gateway BGP tables: one instance per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/failures.h"
#include "net/index.h"

namespace lifeline::net {

enum class RouteOrigin {
  kVnetLocal,     // system: the VNet's own address space
  kPeering,       // system: a peered VNet's address space
  kInternet,      // system: default route
  kUser,          // user-defined route (route table)
  kExpressRoute,  // BGP over one or more circuits' private peering
  kVpn,           // BGP (or static) over a site-to-site VPN
  kAzure,         // site side: a VNet prefix learned from Azure
};
const char* RouteOriginName(RouteOrigin o);  // vnet_local, peering, internet, user, ...
// "system", "user" or "bgp" as the portal's effective routes show the source.
const char* RouteSourceName(RouteOrigin o);

struct RouteEntry {
  IpPrefix prefix;
  RouteOrigin origin = RouteOrigin::kVnetLocal;
  std::string_view next_hop_type = "None";  // a literal: VnetLocal, VNetPeering, Internet,
                                            // VirtualAppliance,
                                            // VirtualNetworkGateway, ExpressRoute, Vpn, None
  std::vector<std::string> next_hops;       // circuits (ECMP, <= 4), VPN name, appliance IP, peer
  std::string via;                          // gateway VNet / route table / site router context
  std::string lands_in;                     // site side: the VNet that owns the prefix
  int weight = 0;                           // connection weight (ExpressRoute)
  int as_path_length = 0;
  int local_pref = 0;  // site side only
  bool active = true;
  std::string note;  // why this route won or lost
};

// A routing table as a VNet (subnet empty) or one of its subnets with a route table sees it.
struct VnetRouteTable {
  std::string vnet;
  std::string subnet;               // empty: subnets without a route table
  std::vector<RouteEntry> entries;  // sorted by prefix, active first within a prefix
};

struct RouterRouteTable {
  std::string site;
  std::string router;
  std::vector<RouteEntry> entries;
};

class RouteComputer {
 public:
  RouteComputer(const TopologyIndex& idx, const FailureSet& failures)
      : idx_(idx), failures_(failures) {}

  // REQUIRES: `v` belongs to the indexed topology. `subnet` empty = the VNet's default table.
  VnetRouteTable ForVnet(const Vnet& v, const std::string& subnet = "");
  // The same table written into `out`, reusing the storage of its entries: callers that
  // walk thousands of VNets refill one table instead of allocating every route again.
  void ForVnet(const Vnet& v, const std::string& subnet, VnetRouteTable* out);
  RouterRouteTable ForRouter(const Site& s, const Router& r);
  // Every table of the topology: each VNet, plus each subnet that has a route table.
  std::vector<VnetRouteTable> AllVnetTables();

 private:
  // BGP candidates of a gateway VNet, best-selected per prefix (shared by its spokes).
  const std::vector<RouteEntry>& GatewayBgp(const Vnet& gateway_vnet);

  const TopologyIndex& idx_;
  const FailureSet& failures_;
  std::unordered_map<std::string, std::unique_ptr<std::vector<RouteEntry>>> bgp_cache_;
  std::vector<RouteEntry> local_;    // ForVnet scratch: system and user routes
  std::vector<IpPrefix> protected_;  // ForVnet scratch: prefixes BGP cannot override
};

// Longest-prefix match among active entries; nullptr if nothing covers `address`.
const RouteEntry* Lookup(const std::vector<RouteEntry>& entries, const IpPrefix& address);

}  // namespace lifeline::net
