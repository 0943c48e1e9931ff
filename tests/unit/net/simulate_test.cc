// Failure simulation: link, circuit, location, router, gateway, VPN and region failures,
// with BFD on and off; detection negotiated as the reference says.
#include "net/simulate.h"

#include "test_util.h"

namespace lifeline::net::testing {
namespace {

const FlowResult& Flow(const SimulationResult& r, const std::string& name) {
  for (const auto& f : r.flows)
    if (f.flow == name) return f;
  ADD_FAILURE() << "no flow " << name;
  static FlowResult none;
  return none;
}

SimulationResult Sim(const Topology& t, std::vector<Element> failed) {
  TopologyIndex idx(t);
  return Simulate(idx, failed);
}

// Base plus the hub linked to the Singapore circuit too (second path).
Topology TwoPaths() {
  Topology t = Base();
  Connection c;
  c.name = "hub-er-sg";
  c.gateway = {"hub", "ergw"};
  c.circuit = "er-sg";
  t.connections.push_back(c);
  PP(t, "er-hk").local_pref = 200;
  return t;
}

TEST(Detection, BfdNegotiatedWithMseeFloor) {
  CircuitPeering p;
  p.bfd = {true, 300, 3};
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 0.9);
  p.bfd = {true, 100, 3};  // the MSEE never goes below 300 ms
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 0.9);
  p.bfd = {true, 750, 3};  // the slower side sets the rate
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 2.25);
  p.bfd.enabled = false;
  p.bgp = {60, 180};
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 180);
  p.bgp = {10, 30};  // the lower hold time of the two sides
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 30);
  p.bgp = {100, 300};  // MSEE's 180 s is lower
  EXPECT_DOUBLE_EQ(LinkDetection(p).seconds, 180);
}

TEST(Simulate, NoFailureNothingAffected) {
  auto r = Sim(Base(), {});
  EXPECT_EQ(r.affected, 0);
  EXPECT_TRUE(Flow(r, "hq <-> vnet1").reachable_before);
  EXPECT_EQ(Flow(r, "hq <-> vnet1").capacity_before_mbps, 1000);  // ErGw1AZ caps 2x1000 burst
}

TEST(Simulate, LinkFailureWithBfd) {
  auto r = Sim(Base(), {{ElementKind::kLink, "er-hk/primary"}});
  const auto& f = Flow(r, "hq <-> vnet1");
  EXPECT_TRUE(f.affected);
  EXPECT_TRUE(f.reachable_after);
  EXPECT_DOUBLE_EQ(f.affected_fraction, 0.5);
  EXPECT_DOUBLE_EQ(*f.detection_s, 0.9);
  EXPECT_DOUBLE_EQ(*f.outage_s, 60.9);
  EXPECT_EQ(r.unreachable, 0);
}

TEST(Simulate, LinkFailureWithoutBfdWaitsForHoldTimer) {
  Topology t = Base();
  PP(t, "er-hk").bfd.enabled = false;
  auto r = Sim(t, {{ElementKind::kLink, "er-hk/secondary"}});
  const auto& f = Flow(r, "hq <-> hub");
  EXPECT_DOUBLE_EQ(*f.detection_s, 180);
  EXPECT_DOUBLE_EQ(*f.outage_s, 240);
  EXPECT_NE(f.detection_how.find("hold"), std::string::npos);
}

TEST(Simulate, OneLinkLeftLosesBurst) {
  Topology t = Base();
  V(t, "hub").gateways[0].sku = "ErGw3AZ";  // 10 Gbps: the circuit is the limit
  auto r = Sim(t, {{ElementKind::kLink, "er-hk/primary"}});
  const auto& f = Flow(r, "hq <-> vnet1");
  EXPECT_EQ(f.capacity_before_mbps, 2000);
  EXPECT_EQ(f.capacity_after_mbps, 1000);
  EXPECT_NE(f.note.find("no 2x burst"), std::string::npos);
}

TEST(Simulate, CircuitFailureReroutesToSecondCircuit) {
  for (bool bfd : {true, false}) {
    Topology t = TwoPaths();
    PP(t, "er-hk").bfd.enabled = bfd;
    auto r = Sim(t, {{ElementKind::kCircuit, "er-hk"}});
    const auto& f = Flow(r, "hq <-> vnet1");
    EXPECT_TRUE(f.reachable_after);
    EXPECT_DOUBLE_EQ(f.affected_fraction, 1);
    EXPECT_NE(f.path_after.find("er-sg"), std::string::npos) << f.path_after;
    EXPECT_DOUBLE_EQ(*f.detection_s, bfd ? 0.9 : 180);
    EXPECT_EQ(f.note.substr(0, 8), "rerouted");
  }
}

TEST(Simulate, CircuitFailureWithoutBackupIsUnreachable) {
  auto r = Sim(Base(), {{ElementKind::kCircuit, "er-hk"}});
  const auto& f = Flow(r, "hq <-> vnet1");
  EXPECT_FALSE(f.reachable_after);
  EXPECT_FALSE(f.outage_s.has_value());
  EXPECT_GE(r.unreachable, 3);                            // hub, vnet1, vnet2
  EXPECT_TRUE(Flow(r, "hq <-> hub-dr").reachable_after);  // other circuit untouched
  EXPECT_FALSE(Flow(r, "hq <-> hub-dr").affected);
}

TEST(Simulate, LocationFailureTakesItsCircuits) {
  Topology t = TwoPaths();
  auto r = Sim(t, {{ElementKind::kLocation, "hongkong"}});
  EXPECT_TRUE(Flow(r, "hq <-> vnet1").reachable_after);
  EXPECT_NE(Flow(r, "hq <-> vnet1").path_after.find("er-sg"), std::string::npos);
  C(t, "er-sg").peering_location = "hongkong";
  r = Sim(t, {{ElementKind::kLocation, "hongkong"}});
  EXPECT_FALSE(Flow(r, "hq <-> vnet1").reachable_after);
}

TEST(Simulate, LocationFailureDetectionWithAndWithoutBfd) {
  for (bool bfd : {true, false}) {
    Topology t = TwoPaths();
    PP(t, "er-hk").bfd.enabled = bfd;
    PP(t, "er-hk").bgp = {10, 30};  // customer's lower hold time is negotiated
    auto r = Sim(t, {{ElementKind::kLocation, "hongkong"}});
    const auto& f = Flow(r, "hq <-> vnet2");
    ASSERT_TRUE(f.detection_s.has_value());
    EXPECT_DOUBLE_EQ(*f.detection_s, bfd ? 0.9 : 30);
    EXPECT_DOUBLE_EQ(*f.outage_s, (bfd ? 0.9 : 30) + 60);
  }
}

TEST(Simulate, RouterFailureMovesToTheOtherRouter) {
  for (bool bfd : {true, false}) {
    Topology t = Base();
    PP(t, "er-hk").bfd.enabled = bfd;
    auto r = Sim(t, {{ElementKind::kRouter, "e1"}});
    const auto& f = Flow(r, "hq <-> vnet1");
    EXPECT_TRUE(f.reachable_after);
    EXPECT_NE(f.path_after.find("e2"), std::string::npos) << f.path_after;
    EXPECT_DOUBLE_EQ(f.affected_fraction, 0.5);
    EXPECT_DOUBLE_EQ(*f.detection_s, bfd ? 0.9 : 180);
  }
  auto r = Sim(Base(), {{ElementKind::kRouter, "e1"}, {ElementKind::kRouter, "e2"}});
  EXPECT_FALSE(Flow(r, "hq <-> vnet1").reachable_after);
}

TEST(Simulate, GatewayFailureCutsItsSpokes) {
  auto r = Sim(Base(), {{ElementKind::kGateway, "hub/ergw"}});
  EXPECT_FALSE(Flow(r, "hq <-> vnet2").reachable_after);
  EXPECT_TRUE(Flow(r, "hub <-> vnet1").reachable_after);  // peering does not need the gateway
}

TEST(Simulate, VpnBackupTakesOverAfterCircuitLoss) {
  Topology t = Base();
  Gateway g;
  g.name = "vpngw";
  g.type = GatewayType::kVpn;
  g.sku = "VpnGw1AZ";
  V(t, "hub").gateways.push_back(g);
  t.vpn_connections.push_back({"hq-vpn", {"hub", "vpngw"}, "hq", "e1", true, 100, "", {}});
  PP(t, "er-hk").local_pref = 200;
  auto r = Sim(t, {{ElementKind::kCircuit, "er-hk"}});
  const auto& f = Flow(r, "hq <-> vnet1");
  EXPECT_TRUE(f.reachable_after);
  EXPECT_NE(f.path_after.find("vpn hq-vpn"), std::string::npos) << f.path_after;
  // Losing the VPN itself does not touch flows on the circuit.
  r = Sim(t, {{ElementKind::kVpn, "hq-vpn"}});
  EXPECT_FALSE(Flow(r, "hq <-> vnet1").affected);
}

TEST(Simulate, RegionFailure) {
  auto r = Sim(Base(), {{ElementKind::kRegion, "eastasia"}});
  EXPECT_FALSE(Flow(r, "hq <-> vnet1").reachable_after);
  EXPECT_FALSE(Flow(r, "hub <-> vnet1").reachable_after);
  EXPECT_TRUE(Flow(r, "hq <-> hub-dr").reachable_after);
  EXPECT_NE(Flow(r, "hq <-> vnet1").note.find("failover"), std::string::npos);
}

TEST(Simulate, AllSingleFailuresRanksWorstFirst) {
  Topology t = Base();
  TopologyIndex idx(t);
  auto rs = SimulateAllSingleFailures(idx);
  ASSERT_EQ(rs.size(), AllElements(idx.topology()).size());
  for (size_t i = 1; i < rs.size(); ++i) EXPECT_GE(rs[i - 1].unreachable, rs[i].unreachable);
  EXPECT_EQ(rs.front().failed[0].kind, ElementKind::kRegion);  // eastasia loses the most
}

TEST(Simulate, ResolveElementNames) {
  Topology t = Base();
  TopologyIndex idx(t);
  EXPECT_EQ(ResolveElement(idx, "er-hk/primary")->kind, ElementKind::kLink);
  EXPECT_EQ(ResolveElement(idx, "hongkong")->kind, ElementKind::kLocation);
  EXPECT_EQ(ResolveElement(idx, "hub/ergw")->kind, ElementKind::kGateway);
  EXPECT_EQ(ResolveElement(idx, "region:eastasia")->kind, ElementKind::kRegion);
  auto bad = ResolveElement(idx, "er-hx");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("did you mean 'er-hk'"), std::string::npos);
}

}  // namespace
}  // namespace lifeline::net::testing
