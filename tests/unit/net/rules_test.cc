// One positive (the rule fires) and one negative (a near miss stays quiet) test per rule of
// `net check`, as mutations of a clean base topology.
#include <functional>
#include <set>

#include "test_util.h"

namespace lifeline::net::testing {
namespace {

using Mut = std::function<void(Topology&)>;

struct RuleCase {
  std::string id;
  Mut bad;            // makes the rule fire
  Mut good;           // a near miss: the rule stays quiet
  Mut old = nullptr;  // change rules: the older topology (base + this)
};

void AddMsPeering(Topology& t, const char* circuit) {
  CircuitPeering p;
  p.type = PeeringType::kMicrosoft;
  p.peer_asn = 64999;
  p.primary_prefix = P("203.0.113.0/30");
  p.secondary_prefix = P("203.0.113.4/30");
  p.vlan = 200;
  p.bfd.enabled = true;
  p.primary_router = "e1";
  p.secondary_router = "e2";
  p.advertise = {P("203.0.113.32/28")};
  p.has_route_filter = true;
  p.route_filter_communities = {"12076:52006"};
  p.nat_pool = {P("203.0.113.32/28")};
  C(t, circuit).peerings.push_back(p);
}

void AddVpn(Topology& t, const char* sku = "VpnGw1AZ") {
  Gateway g;
  g.name = "vpngw";
  g.type = GatewayType::kVpn;
  g.sku = sku;
  g.vpn_type = "route_based";
  g.asn = 65515;
  g.public_ip = PublicIp{};
  V(t, "hub").gateways.push_back(g);
  VpnConnection c;
  c.name = "hq-vpn";
  c.gateway = {"hub", "vpngw"};
  c.site = "hq";
  c.router = "e1";
  t.vpn_connections.push_back(c);
}

void AddGlobalReach(Topology& t, const char* prefix) {
  t.global_reach.push_back(GlobalReach{"er-hk", "er-sg", P(prefix), {}});
}

Connection Conn(const std::string& name, const std::string& vnet, const std::string& circuit) {
  Connection c;
  c.name = name;
  c.gateway = {vnet, "ergw"};
  c.circuit = circuit;
  return c;
}

Circuit ExtraCircuit(const std::string& name, const std::string& location) {
  Circuit c;
  c.name = name;
  c.provider = "X";
  c.peering_location = location;
  c.bandwidth_mbps = 1000;
  c.sku = {"Standard", "MeteredData", "Standard_MeteredData", {}};
  return c;
}

const std::vector<RuleCase>& Cases() {
  static const std::vector<RuleCase> kCases = {
      {"addr.subnet-outside-vnet",
       [](Topology& t) { V(t, "vnet1").subnets[0].prefix = P("10.9.0.0/25"); },
       [](Topology& t) { V(t, "vnet1").subnets[0].prefix = P("10.1.0.128/25"); }},
      {"addr.subnet-overlap",
       [](Topology& t) { V(t, "hub").subnets[0].prefix = P("10.10.10.128/26"); },
       [](Topology& t) { V(t, "hub").subnets[0].prefix = P("10.10.10.64/26"); }},
      {"addr.peered-overlap",
       [](Topology& t) {
         V(t, "vnet1").address_space = {P("10.10.10.0/25")};
         V(t, "vnet1").subnets.clear();
       },
       [](Topology& t) {
         V(t, "vnet1").address_space = {P("10.10.11.0/25")};
         V(t, "vnet1").subnets.clear();
       }},
      {"addr.circuit-overlap",
       [](Topology& t) {  // hub-dr with hub's space, linked to hub's circuit
         V(t, "hub-dr").address_space = {P("10.10.10.0/24")};
         V(t, "hub-dr").subnets = V(t, "hub").subnets;
         t.connections[1].circuit = "er-hk";
       },
       [](Topology& t) {  // same space, but on the other circuit
         V(t, "hub-dr").address_space = {P("10.10.10.0/24")};
         V(t, "hub-dr").subnets = V(t, "hub").subnets;
       }},
      {"addr.peering-subnet",
       [](Topology& t) { PP(t, "er-hk").secondary_prefix = P("192.168.100.128/29"); },
       [](Topology& t) { PP(t, "er-hk").secondary_prefix = P("192.168.100.136/30"); }},
      {"addr.peering-subnet-vnet",
       [](Topology& t) { PP(t, "er-hk").primary_prefix = P("10.1.0.128/30"); },
       [](Topology& t) { PP(t, "er-hk").primary_prefix = P("10.3.0.128/30"); }},
      {"addr.global-reach", [](Topology& t) { AddGlobalReach(t, "192.168.50.0/29"); },
       [](Topology& t) { AddGlobalReach(t, "172.30.0.0/29"); }},
      {"gwsubnet.name", [](Topology& t) { V(t, "hub").subnets[1].name = "Gatewaysubnet"; },
       [](Topology& t) { V(t, "hub").subnets[0].name = "gateway-nva"; }},
      {"gwsubnet.size", [](Topology& t) { V(t, "hub").subnets[1].prefix = P("10.10.10.128/28"); },
       [](Topology& t) { V(t, "hub").subnets[1].prefix = P("10.10.10.128/27"); }},
      {"gwsubnet.nsg", [](Topology& t) { V(t, "hub").subnets[1].nsg = "nsg1"; },
       [](Topology& t) { V(t, "hub").subnets[0].nsg = "nsg1"; }},
      {"gwsubnet.default-route",
       [](Topology& t) {
         t.route_tables[0].subnets.push_back({"hub", "GatewaySubnet", {}});
       },
       [](Topology& t) {
         RouteTable rt;
         rt.name = "gw";
         rt.subnets = {{"hub", "GatewaySubnet", {}}};
         rt.routes = {{P("10.1.0.0/24"), NextHopType::kAppliance, P("10.10.10.10/32"), {}}};
         t.route_tables.push_back(rt);
       }},
      {"gwsubnet.propagation",
       [](Topology& t) {
         RouteTable rt;
         rt.name = "gw";
         rt.propagate_gateway_routes = false;
         rt.subnets = {{"hub", "GatewaySubnet", {}}};
         t.route_tables.push_back(rt);
       },
       [](Topology& t) { t.route_tables[0].propagate_gateway_routes = false; }},
      {"gw.one-per-type",
       [](Topology& t) {
         V(t, "hub").gateways.push_back(V(t, "hub").gateways[0]);
         V(t, "hub").gateways[1].name = "ergw2";
       },
       [](Topology& t) { AddVpn(t); }},
      {"gw.circuit-limit",
       [](Topology& t) {
         for (int i = 0; i < 4; ++i) {
           t.circuits.push_back(ExtraCircuit("x" + std::to_string(i), "hongkong"));
           t.connections.push_back(Conn("cx" + std::to_string(i), "hub", "x" + std::to_string(i)));
         }
       },
       [](Topology& t) {
         for (int i = 0; i < 3; ++i) {
           t.circuits.push_back(ExtraCircuit("x" + std::to_string(i), "hongkong"));
           t.connections.push_back(Conn("cx" + std::to_string(i), "hub", "x" + std::to_string(i)));
         }
       }},
      {"circuit.sku-name", [](Topology& t) { C(t, "er-hk").sku.name = "Premium_MeteredData"; },
       [](Topology& t) {
         C(t, "er-hk").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
       }},
      {"circuit.bandwidth", [](Topology& t) { C(t, "er-hk").bandwidth_mbps = 300; },
       [](Topology& t) { C(t, "er-hk").bandwidth_mbps = 10000; }},
      {"circuit.local-sku",
       [](Topology& t) {
         C(t, "er-hk").sku = {"Local", "UnlimitedData", "Local_UnlimitedData", {}};
         AddGlobalReach(t, "172.30.0.0/29");
       },
       [](Topology& t) {
         C(t, "er-hk").sku = {"Local", "UnlimitedData", "Local_UnlimitedData", {}};
       }},
      {"circuit.not-provisioned",
       [](Topology& t) { C(t, "er-hk").service_provider_state = "Provisioning"; },
       [](Topology& t) {  // Direct circuits have no provider state
         C(t, "er-hk").service_provider_state = "NotProvisioned";
         C(t, "er-hk").provider.clear();
         C(t, "er-hk").direct_port_gbps = 10;
       }},
      {"circuit.link-limit",
       [](Topology& t) {
         for (int i = 0; i < 10; ++i) {
           Vnet v = V(t, "hub-dr");
           v.name = "h" + std::to_string(i);
           v.address_space = {P(("10.40." + std::to_string(i) + ".0/24").c_str())};
           v.subnets = {{"GatewaySubnet", v.address_space[0], "", {}}};
           t.vnets.push_back(v);
           t.connections.push_back(Conn("c" + std::to_string(i), v.name, "er-hk"));
         }
       },
       [](Topology& t) {
         for (int i = 0; i < 9; ++i) {
           Vnet v = V(t, "hub-dr");
           v.name = "h" + std::to_string(i);
           v.address_space = {P(("10.40." + std::to_string(i) + ".0/24").c_str())};
           v.subnets = {{"GatewaySubnet", v.address_space[0], "", {}}};
           t.vnets.push_back(v);
           t.connections.push_back(Conn("c" + std::to_string(i), v.name, "er-hk"));
         }
       }},
      {"circuit.cross-geo",
       [](Topology& t) {
         V(t, "hub-dr").region = "westeurope";
         t.dr.reset();
       },
       [](Topology& t) {
         V(t, "hub-dr").region = "westeurope";
         t.dr.reset();
         C(t, "er-sg").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
       }},
      {"circuit.global-reach",
       [](Topology& t) {
         AddGlobalReach(t, "172.30.0.0/29");
         C(t, "er-sg").peering_location = "hongkong";
       },
       [](Topology& t) { AddGlobalReach(t, "172.30.0.0/29"); }},
      {"peering.asn-reserved", [](Topology& t) { PP(t, "er-hk").peer_asn = 65517; },
       [](Topology& t) { PP(t, "er-hk").peer_asn = 65514; }},
      {"peering.vlan-unique",
       [](Topology& t) {
         AddMsPeering(t, "er-hk");
         C(t, "er-hk").peerings[1].vlan = 100;
       },
       [](Topology& t) { AddMsPeering(t, "er-hk"); }},
      {"peering.single-link", [](Topology& t) { PP(t, "er-hk").secondary_router.clear(); },
       [](Topology& t) {
         std::swap(PP(t, "er-hk").primary_router, PP(t, "er-hk").secondary_router);
       }},
      {"peering.bgp-timers",
       [](Topology& t) {
         PP(t, "er-hk").bgp = {5, 10};
       },
       [](Topology& t) {
         PP(t, "er-hk").bgp = {3, 10};
       }},
      {"peering.bfd-off", [](Topology& t) { PP(t, "er-hk").bfd.enabled = false; },
       [](Topology& t) { PP(t, "er-hk").bfd.interval_ms = 750; }},
      {"peering.prefix-limit",
       [](Topology& t) {
         auto& a = PP(t, "er-hk").advertise;
         IpPrefix p = P("172.16.0.0/28");
         for (int i = 0; i < 4001; ++i) {
           a.push_back(p);
           p.Next(&p);
         }
       },
       [](Topology& t) {
         C(t, "er-hk").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
         auto& a = PP(t, "er-hk").advertise;
         IpPrefix p = P("172.16.0.0/28");
         for (int i = 0; i < 4001; ++i) {
           a.push_back(p);
           p.Next(&p);
         }
       }},
      {"peering.ms-public-only",
       [](Topology& t) {
         AddMsPeering(t, "er-hk");
         C(t, "er-hk").peerings[1].advertise.push_back(P("10.99.0.0/16"));
       },
       [](Topology& t) {
         AddMsPeering(t, "er-hk");
         C(t, "er-hk").peerings[1].advertise.push_back(P("198.51.100.0/24"));
       }},
      {"peering.ms-route-filter",
       [](Topology& t) {
         AddMsPeering(t, "er-hk");
         C(t, "er-hk").peerings[1].has_route_filter = false;
       },
       [](Topology& t) { AddMsPeering(t, "er-hk"); }},
      {"peering.ms-nat-pool",
       [](Topology& t) {
         AddMsPeering(t, "er-hk");
         C(t, "er-hk").peerings[1].nat_pool.clear();
       },
       [](Topology& t) { AddMsPeering(t, "er-hk"); }},
      {"gw.sku", [](Topology& t) { V(t, "hub").gateways[0].sku = "ErGw4AZ"; },
       [](Topology& t) {
         V(t, "hub").gateways[0].sku = "ErGwScale";
         V(t, "hub").gateways[0].scale_units = 2;
       }},
      {"gw.public-ip", [](Topology& t) { V(t, "hub").gateways[0].public_ip->sku = "basic"; },
       [](Topology& t) { V(t, "hub").gateways[0].public_ip.reset(); }},
      {"gw.zone-placement", [](Topology& t) { V(t, "hub").gateways[0].public_ip->zone = 1; },
       [](Topology& t) { V(t, "hub").gateways[0].sku = "ErGw3AZ"; }},
      {"gw.fastpath-sku", [](Topology& t) { t.connections[0].fastpath = true; },
       [](Topology& t) {
         t.connections[0].fastpath = true;
         V(t, "hub").gateways[0].sku = "ErGw3AZ";
       }},
      {"vpn.coexist",
       [](Topology& t) {
         AddVpn(t);
         V(t, "hub").gateways[1].asn = 65020;
       },
       [](Topology& t) { AddVpn(t); }},
      {"vpn.private-only",
       [](Topology& t) {
         AddVpn(t);
         AddMsPeering(t, "er-hk");
       },
       [](Topology& t) { AddVpn(t); }},
      {"vnetpeer.remote-gateway",
       [](Topology& t) { t.vnet_peerings[2].allow_gateway_transit = false; },
       [](Topology& t) {
         t.vnet_peerings[2].allow_gateway_transit = false;
         t.vnet_peerings[0].use_remote_gateways = false;
       }},
      {"vnetpeer.one-remote-gateway",
       [](Topology& t) {
         t.vnet_peerings.push_back({"vnet1", "hub-dr", true, true, false, true, {}});
         t.vnet_peerings.push_back({"hub-dr", "vnet1", true, true, true, false, {}});
       },
       [](Topology& t) {
         t.vnet_peerings.push_back({"vnet1", "hub-dr", true, true, false, false, {}});
         t.vnet_peerings.push_back({"hub-dr", "vnet1", true, true, true, false, {}});
       }},
      {"vnetpeer.own-gateway",
       [](Topology& t) {
         t.vnet_peerings.push_back({"hub-dr", "hub", true, true, false, true, {}});
         t.vnet_peerings.push_back({"hub", "hub-dr", true, true, true, false, {}});
       },
       [](Topology& t) {
         t.vnet_peerings.push_back({"hub-dr", "hub", true, true, false, false, {}});
         t.vnet_peerings.push_back({"hub", "hub-dr", true, true, true, false, {}});
       }},
      {"vnetpeer.one-direction",
       [](Topology& t) {
         t.vnet_peerings.push_back({"hub", "hub-dr", true, true, false, false, {}});
       },
       [](Topology& t) {
         t.vnet_peerings.push_back({"hub", "hub-dr", true, true, false, false, {}});
         t.vnet_peerings.push_back({"hub-dr", "hub", true, true, false, false, {}});
       }},
      {"vnetpeer.transit",
       [](Topology& t) { t.route_tables[0].routes[0].prefix = P("10.1.0.0/24"); },
       [](Topology& t) { t.route_tables[0].routes[0].prefix = P("10.0.0.0/8"); }},
      {"route.appliance-missing",
       [](Topology& t) { t.route_tables[0].routes[0].next_hop_ip = P("10.10.10.11/32"); },
       [](Topology& t) {
         V(t, "hub").appliances.push_back({"nva2", P("10.10.10.11/32"), {}});
         t.route_tables[0].routes[0].next_hop_ip = P("10.10.10.11/32");
       }},
      {"route.er-gateway-next-hop",
       [](Topology& t) {
         t.route_tables[0].routes.push_back(
             {P("192.168.0.0/16"), NextHopType::kGateway, std::nullopt, {}});
       },
       [](Topology& t) {
         t.route_tables[0].routes.push_back(
             {P("192.168.0.0/16"), NextHopType::kAppliance, P("10.10.10.10/32"), {}});
       }},
      {"route.replication-via-nva", [](Topology& t) { V(t, "vnet1").service_endpoints.clear(); },
       [](Topology& t) {
         V(t, "vnet1").service_endpoints.clear();
         t.route_tables[0].routes[0].prefix = P("10.0.0.0/8");
       }},
      {"vpn.encryption-overlap",
       [](Topology& t) {
         AddVpn(t);
         t.vpn_connections[0].over_circuit = "er-hk";
       },
       [](Topology& t) {
         AddVpn(t);
         t.vpn_connections[0].over_circuit = "er-hk";
         t.sites[0].prefixes = {P("192.168.0.0/17"), P("192.168.128.0/17")};
       }},
      {"change.bandwidth-down", [](Topology& t) { C(t, "er-hk").bandwidth_mbps = 500; },
       [](Topology& t) { C(t, "er-hk").bandwidth_mbps = 2000; }},
      {"change.unlimited-to-metered", [](Topology&) {},
       [](Topology& t) {
         C(t, "er-hk").sku = {"Standard", "UnlimitedData", "Standard_UnlimitedData", {}};
       },
       [](Topology& t) {
         C(t, "er-hk").sku = {"Standard", "UnlimitedData", "Standard_UnlimitedData", {}};
       }},
      {"change.premium-off",
       [](Topology& t) {
         V(t, "hub-dr").region = "westeurope";
         t.connections[1].circuit = "er-hk";
         t.dr.reset();
       },
       [](Topology&) {},
       [](Topology& t) {
         C(t, "er-hk").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
       }},
      {"change.gateway-resize",
       [](Topology& t) { V(t, "hub").gateways[0].sku = "HighPerformance"; },
       [](Topology& t) { V(t, "hub").gateways[0].sku = "ErGw2AZ"; }},
      {"dr.target-network", [](Topology& t) { t.dr->network_mapping[0].target = "vnet1"; },
       [](Topology& t) { t.dr->network_mapping[0].target = "hub-dr-new"; }},
      {"dr.same-space-one-circuit",
       [](Topology& t) {
         t.dr->ip_strategy = "retain";
         t.connections.pop_back();
         t.circuits.pop_back();
       },
       [](Topology& t) { t.dr->ip_strategy = "retain"; }},
      {"dr.target-premium",
       [](Topology& t) {
         t.regions[1].geo = "europe";
         V(t, "hub-dr").region = "westeurope";
         t.connections.pop_back();
       },
       [](Topology& t) {
         t.regions[1].geo = "europe";
         t.connections.pop_back();
         C(t, "er-hk").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
         C(t, "er-sg").sku = C(t, "er-hk").sku;
       }},
      {"dr.replication-path",
       [](Topology& t) {
         t.dr->replication_site = "hq";
         t.dr->replication_peering = "microsoft";
       },
       [](Topology& t) {
         t.dr->replication_site = "hq";
         t.dr->replication_peering = "microsoft";
         AddMsPeering(t, "er-hk");
       }},
      {"dr.drill-isolated", [](Topology& t) { t.dr->network_mapping[0].drill = "hub-dr"; },
       [](Topology& t) { t.dr->network_mapping[0].drill = "hub-test"; }},
      {"dr.target-not-provisioned", [](Topology& t) { t.connections.pop_back(); },
       [](Topology& t) { t.connections[1].weight = 10; }},
      {"dr.single-location", [](Topology& t) { C(t, "er-sg").peering_location = "hongkong"; },
       [](Topology& t) {
         C(t, "er-sg").peering_location = "amsterdam";
         C(t, "er-sg").sku = {"Premium", "MeteredData", "Premium_MeteredData", {}};
       }},
  };
  return kCases;
}

class RuleTest : public ::testing::TestWithParam<RuleCase> {};

std::vector<Finding> Apply(const RuleCase& c, const Mut& m) {
  Topology t = Base();
  m(t);
  if (FindRule(c.id) && FindRule(c.id)->needs_old) {
    Topology old = Base();
    if (c.old) c.old(old);
    return Check(t, &old);
  }
  return Check(t);
}

TEST_P(RuleTest, FiresOnViolation) {
  const RuleCase& c = GetParam();
  ASSERT_NE(FindRule(c.id), nullptr) << c.id;
  auto fs = Apply(c, c.bad);
  EXPECT_GE(Count(fs, c.id), 1) << Dump(fs);
  for (const auto& f : fs) {
    if (f.rule_id != c.id) continue;
    EXPECT_FALSE(f.message.empty());
    EXPECT_FALSE(f.fix.empty());
    EXPECT_FALSE(f.element.empty());
  }
}

TEST_P(RuleTest, QuietOnNearMiss) {
  const RuleCase& c = GetParam();
  auto fs = Apply(c, c.good);
  EXPECT_EQ(Count(fs, c.id), 0) << Dump(fs);
}

std::string CaseName(const ::testing::TestParamInfo<RuleCase>& info) {
  std::string s;
  for (char ch : info.param.id) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllRules, RuleTest, ::testing::ValuesIn(Cases()), CaseName);

TEST(RuleSet, BaseTopologyIsClean) {
  Topology t = Base();
  auto fs = Check(t);
  EXPECT_TRUE(fs.empty()) << Dump(fs);
}

TEST(RuleSet, EveryRuleHasACaseAndIdsAreUnique) {
  std::set<std::string> ids, cases;
  for (const auto& c : Cases()) cases.insert(c.id);
  for (const auto& r : AllRules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << "duplicate id " << r.id;
    EXPECT_TRUE(cases.count(r.id)) << "no test case for rule " << r.id;
    EXPECT_NE(std::string(r.source), "");
  }
  EXPECT_EQ(ids.size(), cases.size());
}

TEST(RuleSet, FindingsCarryFileLine) {
  Topology t = Parse(std::string(kBaseYaml) + "");
  C(t, "er-hk").bandwidth_mbps = 300;
  auto fs = Check(t);
  ASSERT_EQ(Count(fs, "circuit.bandwidth"), 1);
  for (const auto& f : fs)
    if (f.rule_id == "circuit.bandwidth") {
      EXPECT_EQ(f.loc.line, 54);  // "  - name: er-hk"
    }
}

}  // namespace
}  // namespace lifeline::net::testing
