// The hybrid-network model: plain structs mirroring the topology file (NETWORK_MODEL.md §1).
// Read by checks, routes, simulate, plan and the lab. Value types; thread-compatible.
//
// Every element carries the position of its YAML node (`loc`) so that any finding can point
// at file:line. Optional keys keep the documented defaults; references between elements are
// names, already resolved by the parser (every name a reference uses exists).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/prefix.h"

namespace lifeline::net {

// 1-based line and column in the topology file; 0 when unknown (built in code).
struct Loc {
  int line = 0;
  int column = 0;
};

struct Region {
  std::string name;
  std::string geo;  // geopolitical area, e.g. asia-pacific
  Loc loc;
};

struct PeeringLocation {
  std::string name;
  std::string geo;
  Loc loc;
};

struct Router {  // customer edge router (CE)
  std::string name;
  uint32_t asn = 0;
  Loc loc;
};

struct Site {  // an on-premises network
  std::string name;
  std::vector<IpPrefix> prefixes;
  std::vector<Router> routers;
  Loc loc;
};

struct Subnet {
  std::string name;
  IpPrefix prefix;
  std::string nsg;  // network security group name; empty = none
  Loc loc;
};

enum class GatewayType { kExpressRoute, kVpn };

struct PublicIp {
  std::string sku = "standard";  // standard | basic
  std::optional<int> zone;       // none = zone-redundant (with an AZ SKU)
  Loc loc;
};

struct Gateway {
  std::string name;
  GatewayType type = GatewayType::kExpressRoute;
  std::string sku;
  std::optional<PublicIp> public_ip;
  std::string vpn_type;         // VPN only: route_based | policy_based
  std::optional<uint32_t> asn;  // VPN only (default 65515)
  int scale_units = 0;          // ErGwScale only (minimum scale units)
  Loc loc;
};

struct Appliance {  // network virtual appliance (NVA)
  std::string name;
  IpPrefix ip;  // full-length prefix
  Loc loc;
};

struct ServiceEndpoint {
  std::string subnet;
  std::string service;  // storage, sql, ...
  Loc loc;
};

struct Vnet {
  std::string name;
  std::string region;
  std::vector<IpPrefix> address_space;
  std::vector<Subnet> subnets;
  std::vector<Gateway> gateways;
  std::vector<Appliance> appliances;
  std::vector<ServiceEndpoint> service_endpoints;
  Loc loc;
};

// One direction of a VNet peering, as the seeds' tables list them.
struct VnetPeering {
  std::string from;
  std::string to;
  bool allow_vnet_access = true;
  bool allow_forwarded_traffic = false;
  bool allow_gateway_transit = false;
  bool use_remote_gateways = false;
  Loc loc;
};

enum class NextHopType { kAppliance, kGateway, kVnetLocal, kInternet, kNone };

struct Route {
  IpPrefix prefix;
  NextHopType next_hop = NextHopType::kNone;
  std::optional<IpPrefix> next_hop_ip;  // appliance only
  Loc loc;
};

struct SubnetRef {
  std::string vnet;
  std::string subnet;
  Loc loc;
};

struct RouteTable {
  std::string name;
  std::vector<SubnetRef> subnets;
  bool propagate_gateway_routes = true;
  std::vector<Route> routes;
  Loc loc;
};

struct CircuitSku {
  std::string tier;    // Standard | Premium | Local | Basic
  std::string family;  // MeteredData | UnlimitedData
  std::string name;    // must be <tier>_<family>
  Loc loc;
};

enum class PeeringType { kPrivate, kMicrosoft };

struct BgpTimers {  // customer side; the MSEE side is fixed at 60/180
  int keepalive_s = 60;
  int hold_s = 180;
};

struct BfdConfig {
  bool enabled = false;
  int interval_ms = 300;
  int multiplier = 3;
};

struct CircuitPeering {
  PeeringType type = PeeringType::kPrivate;
  bool enabled = true;
  uint32_t peer_asn = 0;
  std::optional<IpPrefix> primary_prefix;
  std::optional<IpPrefix> secondary_prefix;
  int vlan = 0;
  BgpTimers bgp;
  BfdConfig bfd;
  std::string primary_router;    // links.primary; empty = link not configured
  std::string secondary_router;  // links.secondary
  std::vector<IpPrefix> advertise;
  // Microsoft peering only.
  bool has_route_filter = false;
  std::vector<std::string> route_filter_communities;
  std::vector<IpPrefix> nat_pool;
  // Site-side routing policy for this peering (extensions, see docs/network-model.md).
  int as_path_prepend = 0;  // extra copies of the site ASN on what the site announces
  int local_pref = 100;     // what the site's routers give routes learned here
  Loc loc;
};

struct Circuit {
  std::string name;
  std::string provider;      // partner circuit: provider name; empty for Direct
  int direct_port_gbps = 0;  // ExpressRoute Direct: port speed (10, 100, 400); 0 = partner
  std::string peering_location;
  int64_t bandwidth_mbps = 0;
  CircuitSku sku;
  std::string service_provider_state = "Provisioned";
  std::string circuit_state = "Enabled";
  std::vector<CircuitPeering> peerings;
  Loc loc;

  const CircuitPeering* Private() const {
    for (const auto& p : peerings)
      if (p.type == PeeringType::kPrivate) return &p;
    return nullptr;
  }
  const CircuitPeering* Microsoft() const {
    for (const auto& p : peerings)
      if (p.type == PeeringType::kMicrosoft) return &p;
    return nullptr;
  }
};

struct GatewayRef {
  std::string vnet;
  std::string gateway;
  std::string ToString() const { return vnet + "/" + gateway; }
};

struct Connection {  // a gateway linked to a circuit
  std::string name;
  GatewayRef gateway;
  std::string circuit;
  int weight = 0;  // RoutingWeight 0..32000
  bool fastpath = false;
  Loc loc;
};

struct VpnConnection {
  std::string name;
  GatewayRef gateway;
  std::string site;
  std::string router;
  bool bgp = true;
  int local_pref = 100;      // site side (extension)
  std::string over_circuit;  // IPsec running over this circuit's private peering (extension)
  Loc loc;
};

struct GlobalReach {
  std::string circuit_a;
  std::string circuit_b;
  IpPrefix prefix;
  Loc loc;
};

struct NetworkMapping {
  std::string source;
  std::string target;
  std::string drill;  // empty = none given
  Loc loc;
};

struct DrConfig {
  std::string source_region;
  std::string target_region;
  std::string ip_strategy = "retain";  // retain | new
  std::vector<NetworkMapping> network_mapping;
  std::string replication_site;     // replication_path.site; empty = none
  std::string replication_peering;  // private | microsoft
  Loc replication_loc;
  Loc loc;
};

struct Topology {
  std::string name;
  std::string file;  // path the model was read from, for file:line
  std::vector<Region> regions;
  std::vector<PeeringLocation> peering_locations;
  std::vector<Site> sites;
  std::vector<Vnet> vnets;
  std::vector<VnetPeering> vnet_peerings;
  std::vector<RouteTable> route_tables;
  std::vector<Circuit> circuits;
  std::vector<Connection> connections;
  std::vector<VpnConnection> vpn_connections;
  std::vector<GlobalReach> global_reach;
  std::optional<DrConfig> dr;
};

const char* NextHopTypeName(NextHopType t);  // appliance, gateway, vnet_local, internet, none
const char* PeeringTypeName(PeeringType t);  // private, microsoft
const char* GatewayTypeName(GatewayType t);  // expressroute, vpn

}  // namespace lifeline::net
