// Route selection: one case per tie-break of NETWORK_MODEL.md §3.
#include "net/routes.h"

#include "test_util.h"

namespace lifeline::net::testing {
namespace {

std::vector<RouteEntry> Active(const std::vector<RouteEntry>& es, const char* prefix) {
  std::vector<RouteEntry> out;
  for (const auto& e : es)
    if (e.active && e.prefix == P(prefix)) out.push_back(e);
  return out;
}
const RouteEntry* Find(const std::vector<RouteEntry>& es, const char* prefix, RouteOrigin o) {
  for (const auto& e : es)
    if (e.prefix == P(prefix) && e.origin == o) return &e;
  return nullptr;
}

VnetRouteTable Table(const Topology& t, const char* vnet, const char* subnet = "") {
  TopologyIndex idx(t);
  FailureSet none;
  RouteComputer rc(idx, none);
  return rc.ForVnet(*idx.FindVnet(vnet), subnet);
}

void AddVpn(Topology& t) {
  Gateway g;
  g.name = "vpngw";
  g.type = GatewayType::kVpn;
  g.sku = "VpnGw1AZ";
  V(t, "hub").gateways.push_back(g);
  VpnConnection c;
  c.name = "hq-vpn";
  c.gateway = {"hub", "vpngw"};
  c.site = "hq";
  c.router = "e1";
  t.vpn_connections.push_back(c);
}

void LinkSecondCircuit(Topology& t, int weight = 0) {
  Connection c;
  c.name = "hub-er-sg";
  c.gateway = {"hub", "ergw"};
  c.circuit = "er-sg";
  c.weight = weight;
  t.connections.push_back(c);
}

TEST(Routes, SystemRoutesOfAVnet) {
  Topology t = Base();
  auto es = Table(t, "vnet1").entries;
  ASSERT_NE(Find(es, "10.1.0.0/24", RouteOrigin::kVnetLocal), nullptr);
  ASSERT_NE(Find(es, "10.10.10.0/24", RouteOrigin::kPeering), nullptr);
  EXPECT_EQ(Find(es, "10.10.10.0/24", RouteOrigin::kPeering)->next_hops[0], "hub");
  ASSERT_NE(Find(es, "0.0.0.0/0", RouteOrigin::kInternet), nullptr);
  // vnet1 uses the hub's gateway: it learns the site over er-hk.
  auto bgp = Active(es, "192.168.0.0/16");
  ASSERT_EQ(bgp.size(), 1u);
  EXPECT_EQ(bgp[0].origin, RouteOrigin::kExpressRoute);
  EXPECT_EQ(bgp[0].next_hops, std::vector<std::string>{"er-hk"});
}

TEST(Routes, LongestPrefixFirst) {
  Topology t = Base();
  PP(t, "er-hk").advertise = {P("192.168.0.0/16"), P("192.168.10.0/24")};
  auto es = Table(t, "hub").entries;
  const RouteEntry* r = Lookup(es, P("192.168.10.5/32"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->prefix, P("192.168.10.0/24"));
  EXPECT_EQ(Lookup(es, P("192.168.11.5/32"))->prefix, P("192.168.0.0/16"));
  EXPECT_EQ(Lookup(es, P("8.8.8.8/32"))->origin, RouteOrigin::kInternet);
}

TEST(Routes, UserBeatsBgpBeatsSystemDefault) {
  Topology t = Base();
  PP(t, "er-hk").advertise = {P("0.0.0.0/0"), P("192.168.0.0/16")};
  t.route_tables[0].routes.push_back(
      {P("192.168.0.0/16"), NextHopType::kAppliance, P("10.10.10.10/32"), {}});
  auto sub = Table(t, "vnet1", "app").entries;
  auto a = Active(sub, "192.168.0.0/16");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].origin, RouteOrigin::kUser);
  EXPECT_FALSE(Find(sub, "192.168.0.0/16", RouteOrigin::kExpressRoute)->active);
  // Without a user route, BGP's default beats the system Internet route.
  auto def = Active(Table(t, "vnet2").entries, "0.0.0.0/0");
  ASSERT_EQ(def.size(), 1u);
  EXPECT_EQ(def[0].origin, RouteOrigin::kExpressRoute);
}

TEST(Routes, VnetSystemRouteBeatsMoreSpecificBgp) {
  Topology t = Base();
  PP(t, "er-hk").advertise = {P("192.168.0.0/16"), P("10.1.0.0/25")};
  auto es = Table(t, "vnet1").entries;
  const RouteEntry* bgp = Find(es, "10.1.0.0/25", RouteOrigin::kExpressRoute);
  ASSERT_NE(bgp, nullptr);
  EXPECT_FALSE(bgp->active);
  EXPECT_EQ(Lookup(es, P("10.1.0.4/32"))->origin, RouteOrigin::kVnetLocal);
  // In the hub, 10.1.0.0/25 is inside the peering route to vnet1: also overridden.
  EXPECT_FALSE(Find(Table(t, "hub").entries, "10.1.0.0/25", RouteOrigin::kExpressRoute)->active);
}

TEST(Routes, ExpressRouteOverVpnForTheSamePrefix) {
  Topology t = Base();
  AddVpn(t);
  auto es = Table(t, "hub").entries;
  EXPECT_EQ(Active(es, "192.168.0.0/16")[0].origin, RouteOrigin::kExpressRoute);
  EXPECT_FALSE(Find(es, "192.168.0.0/16", RouteOrigin::kVpn)->active);
}

TEST(Routes, MoreSpecificVpnPrefixWinsByLongestMatch) {
  Topology t = Base();
  AddVpn(t);
  t.sites[0].prefixes = {P("192.168.10.0/24")};
  auto es = Table(t, "hub").entries;
  EXPECT_EQ(Lookup(es, P("192.168.10.1/32"))->origin, RouteOrigin::kVpn);
}

TEST(Routes, HigherConnectionWeightWins) {
  Topology t = Base();
  LinkSecondCircuit(t, 100);
  auto a = Active(Table(t, "hub").entries, "192.168.0.0/16");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].next_hops, std::vector<std::string>{"er-sg"});
  EXPECT_NE(a[0].note.find("weight"), std::string::npos);
}

TEST(Routes, WeightIsConsideredBeforeAsPath) {
  Topology t = Base();
  LinkSecondCircuit(t, 100);
  PP(t, "er-sg").as_path_prepend = 3;
  auto a = Active(Table(t, "hub").entries, "192.168.0.0/16");
  EXPECT_EQ(a[0].next_hops, std::vector<std::string>{"er-sg"});
}

TEST(Routes, ShorterAsPathWinsAtEqualWeight) {
  Topology t = Base();
  LinkSecondCircuit(t, 0);
  PP(t, "er-hk").as_path_prepend = 2;
  auto a = Active(Table(t, "hub").entries, "192.168.0.0/16");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].next_hops, std::vector<std::string>{"er-sg"});
  EXPECT_EQ(a[0].as_path_length, 1);
}

TEST(Routes, EcmpOverAtMostFourCircuits) {
  Topology t = Base();
  LinkSecondCircuit(t, 0);
  for (int i = 0; i < 3; ++i) {
    Circuit c = C(t, "er-sg");
    c.name = "er-x" + std::to_string(i);
    t.circuits.push_back(c);
    Connection conn;
    conn.name = "hub-" + c.name;
    conn.gateway = {"hub", "ergw"};
    conn.circuit = c.name;
    t.connections.push_back(conn);
  }
  auto es = Table(t, "hub").entries;
  auto a = Active(es, "192.168.0.0/16");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].next_hops.size(), 4u);
  int inactive = 0;
  for (const auto& e : es)
    if (e.prefix == P("192.168.0.0/16") && !e.active) ++inactive;
  EXPECT_EQ(inactive, 1);  // the fifth equal path is not used
}

TEST(Routes, PropagationDisabledDropsBgp) {
  Topology t = Base();
  t.route_tables[0].propagate_gateway_routes = false;
  auto es = Table(t, "vnet1", "app").entries;
  EXPECT_TRUE(Active(es, "192.168.0.0/16").empty());
  EXPECT_TRUE(Active(Table(t, "vnet1").entries, "192.168.0.0/16").size() == 1);
}

RouterRouteTable RouterTable(const Topology& t, const char* router) {
  TopologyIndex idx(t);
  FailureSet none;
  RouteComputer rc(idx, none);
  return rc.ForRouter(t.sites[0], *idx.FindRouter(router));
}

TEST(Routes, SiteLocalPreferenceExpressRouteOverVpn) {
  Topology t = Base();
  AddVpn(t);
  PP(t, "er-hk").local_pref = 200;
  auto es = RouterTable(t, "e1").entries;
  auto a = Active(es, "10.1.0.0/24");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].origin, RouteOrigin::kExpressRoute);
  // A higher local preference on the VPN would win: the site decides.
  t.vpn_connections[0].local_pref = 300;
  a = Active(RouterTable(t, "e1").entries, "10.1.0.0/24");
  EXPECT_EQ(a[0].origin, RouteOrigin::kVpn);
}

TEST(Routes, SiteAsPathThenMultipath) {
  Topology t = Base();
  V(t, "hub-dr").address_space = {P("10.10.10.0/24")};  // same prefix behind two circuits
  auto a = Active(RouterTable(t, "e2").entries, "10.10.10.0/24");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].next_hops.size(), 2u);  // equal: multipath
  PP(t, "er-sg").local_pref = 150;
  a = Active(RouterTable(t, "e2").entries, "10.10.10.0/24");
  EXPECT_EQ(a[0].next_hops, std::vector<std::string>{"er-sg"});
  EXPECT_EQ(a[0].lands_in, "hub-dr");
}

TEST(Routes, FailedCircuitIsWithdrawn) {
  Topology t = Base();
  LinkSecondCircuit(t, 0);
  TopologyIndex idx(t);
  FailureSet f({{ElementKind::kCircuit, "er-hk"}});
  RouteComputer rc(idx, f);
  auto a = Active(rc.ForVnet(*idx.FindVnet("hub")).entries, "192.168.0.0/16");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].next_hops, std::vector<std::string>{"er-sg"});
}

}  // namespace
}  // namespace lifeline::net::testing

#include <nlohmann/json.hpp>
#include <sstream>

#include "net/report.h"

namespace lifeline::net::testing {
namespace {

TEST(RoutesJson, StreamedJsonParsesAndEscapes) {
  Topology t = Base();
  V(t, "vnet1").name = "we\"ird\\name";
  t.vnet_peerings[0].from = V(t, "we\"ird\\name").name;
  t.vnet_peerings[2].to = V(t, "we\"ird\\name").name;
  TopologyIndex idx(t);
  FailureSet none;
  RouteComputer rc(idx, none);
  std::ostringstream os;
  WriteVnetRoutesJson(os, rc.ForVnet(t.vnets[1]));
  auto j = nlohmann::json::parse(os.str());
  EXPECT_EQ(j["vnet"], "we\"ird\\name");
  bool bgp = false;
  for (const auto& r : j["routes"]) {
    if (r["prefix"] == "192.168.0.0/16") {
      bgp = true;
      EXPECT_EQ(r["source"], "bgp");
      EXPECT_EQ(r["next_hops"][0], "er-hk");
      EXPECT_EQ(r["active"], true);
    }
  }
  EXPECT_TRUE(bgp);
}

}  // namespace
}  // namespace lifeline::net::testing
