// Helpers for the network model tests: a clean base topology and lookups into the model.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/check.h"
#include "net/topology_parser.h"

namespace lifeline::net::testing {

// A topology on which no rule fires: hub and spokes in East Asia, a recovery hub in
// Southeast Asia, circuits in Hong Kong and Singapore.
inline const char* kBaseYaml = R"(name: base
regions:
  - {name: eastasia, geo: asia-pacific}
  - {name: southeastasia, geo: asia-pacific}
  - {name: westeurope, geo: europe}
peering_locations:
  - {name: hongkong, geo: asia-pacific}
  - {name: singapore, geo: asia-pacific}
  - {name: amsterdam, geo: europe}
sites:
  - name: hq
    prefixes: [192.168.0.0/16]
    routers:
      - {name: e1, asn: 65010}
      - {name: e2, asn: 65010}
vnets:
  - name: hub
    region: eastasia
    address_space: [10.10.10.0/24]
    subnets:
      - {name: nva, prefix: 10.10.10.0/25}
      - {name: GatewaySubnet, prefix: 10.10.10.128/25}
    gateways:
      - {name: ergw, type: expressroute, sku: ErGw1AZ, public_ip: {sku: standard, zone: null}}
    appliances: [{name: nva1, ip: 10.10.10.10}]
  - name: vnet1
    region: eastasia
    address_space: [10.1.0.0/24]
    subnets: [{name: app, prefix: 10.1.0.0/25}]
    service_endpoints: [{subnet: app, service: storage}]
  - name: vnet2
    region: eastasia
    address_space: [10.2.0.0/24]
    subnets: [{name: app, prefix: 10.2.0.0/25}]
    service_endpoints: [{subnet: app, service: storage}]
  - name: hub-dr
    region: southeastasia
    address_space: [10.20.0.0/24]
    subnets:
      - {name: nva, prefix: 10.20.0.0/25}
      - {name: GatewaySubnet, prefix: 10.20.0.128/25}
    gateways:
      - {name: ergw, type: expressroute, sku: ErGw1AZ, public_ip: {sku: standard, zone: null}}
vnet_peerings:
  - {from: vnet1, to: hub, allow_forwarded_traffic: true, use_remote_gateways: true}
  - {from: vnet2, to: hub, allow_forwarded_traffic: true, use_remote_gateways: true}
  - {from: hub, to: vnet1, allow_forwarded_traffic: true, allow_gateway_transit: true}
  - {from: hub, to: vnet2, allow_forwarded_traffic: true, allow_gateway_transit: true}
route_tables:
  - name: spokes-to-nva
    subnets: [vnet1/app, vnet2/app]
    routes: [{prefix: 0.0.0.0/0, next_hop: appliance, next_hop_ip: 10.10.10.10}]
circuits:
  - name: er-hk
    provider: {name: ExampleCarrier}
    peering_location: hongkong
    bandwidth_mbps: 1000
    sku: {tier: Standard, family: MeteredData, name: Standard_MeteredData}
    peerings:
      - type: private
        peer_asn: 65010
        primary_prefix: 192.168.100.128/30
        secondary_prefix: 192.168.100.132/30
        vlan: 100
        bfd: {enabled: true}
        links: {primary: e1, secondary: e2}
        advertise: [192.168.0.0/16]
  - name: er-sg
    provider: {name: ExampleCarrier}
    peering_location: singapore
    bandwidth_mbps: 500
    sku: {tier: Standard, family: MeteredData, name: Standard_MeteredData}
    peerings:
      - type: private
        peer_asn: 65010
        primary_prefix: 192.168.101.128/30
        secondary_prefix: 192.168.101.132/30
        vlan: 100
        bfd: {enabled: true}
        links: {primary: e1, secondary: e2}
        advertise: [192.168.0.0/16]
connections:
  - {name: hub-er-hk, gateway: hub/ergw, circuit: er-hk}
  - {name: hubdr-er-sg, gateway: hub-dr/ergw, circuit: er-sg}
dr:
  source_region: eastasia
  target_region: southeastasia
  ip_strategy: new
  network_mapping:
    - {source: hub, target: hub-dr, drill: hub-drill}
)";

inline Topology Parse(const std::string& yaml) {
  auto t = ParseTopology(yaml, "test.yaml");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : Topology{};
}
inline Topology Base() { return Parse(kBaseYaml); }

inline IpPrefix P(const char* s) { return *IpPrefix::Parse(s); }

template <typename T>
T& Named(std::vector<T>& xs, const std::string& name) {
  for (auto& x : xs)
    if (x.name == name) return x;
  ADD_FAILURE() << "no element " << name;
  static T dummy;
  return dummy;
}
inline Vnet& V(Topology& t, const std::string& n) { return Named(t.vnets, n); }
inline Circuit& C(Topology& t, const std::string& n) { return Named(t.circuits, n); }
inline CircuitPeering& PP(Topology& t, const std::string& circuit) {
  return C(t, circuit).peerings.front();
}

inline std::vector<Finding> Check(const Topology& t, const Topology* old = nullptr) {
  TopologyIndex idx(t);
  std::optional<TopologyIndex> oi;
  if (old) oi.emplace(*old);
  CheckContext ctx{t, idx, old, old ? &*oi : nullptr};
  return RunChecks(ctx);
}

inline int Count(const std::vector<Finding>& fs, const std::string& id) {
  int n = 0;
  for (const auto& f : fs) n += f.rule_id == id ? 1 : 0;
  return n;
}

inline std::string Dump(const std::vector<Finding>& fs) {
  std::string s;
  for (const auto& f : fs) s += f.rule_id + ": " + f.message + "\n";
  return s;
}

}  // namespace lifeline::net::testing
