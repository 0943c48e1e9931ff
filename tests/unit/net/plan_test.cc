// Recovery plan derivation: networks per ip_strategy, conflicts, ordered steps and RTO time.
#include "net/plan.h"

#include "test_util.h"

namespace lifeline::net::testing {
namespace {

const PlannedNetwork* Net(const RecoveryPlan& p, const std::string& name) {
  for (const auto& n : p.networks)
    if (n.name == name) return &n;
  return nullptr;
}
bool HasConflict(const RecoveryPlan& p, const std::string& id) {
  for (const auto& c : p.conflicts)
    if (c.id == id) return true;
  return false;
}

Topology WithSpokeMapping(const char* strategy) {
  Topology t = Base();
  t.dr->ip_strategy = strategy;
  t.dr->network_mapping.push_back({"vnet1", "vnet1-dr", "vnet1-drill", {}});
  return t;
}

TEST(Plan, RetainKeepsAddressesAndMirrorsSubnets) {
  Topology t = WithSpokeMapping("retain");
  TopologyIndex idx(t);
  auto p = MakePlan(idx);
  ASSERT_TRUE(p.ok());
  const PlannedNetwork* n = Net(*p, "vnet1-dr");
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->exists);
  EXPECT_EQ(n->address_space[0], P("10.1.0.0/24"));
  EXPECT_EQ(n->subnets[0].prefix, P("10.1.0.0/25"));
  EXPECT_TRUE(Net(*p, "hub-dr")->exists);
  // The drill network never overlaps anything.
  const PlannedNetwork* d = Net(*p, "vnet1-drill");
  for (const auto& v : t.vnets) EXPECT_FALSE(v.address_space[0].Overlaps(d->address_space[0]));
}

TEST(Plan, NewAllocatesFreeSpaceAndRebasesSubnets) {
  Topology t = WithSpokeMapping("new");
  TopologyIndex idx(t);
  auto p = MakePlan(idx);
  ASSERT_TRUE(p.ok());
  const PlannedNetwork* n = Net(*p, "vnet1-dr");
  EXPECT_EQ(n->address_space[0].length(), 24);
  for (const auto& v : t.vnets) EXPECT_FALSE(v.address_space[0].Overlaps(n->address_space[0]));
  EXPECT_TRUE(n->address_space[0].Contains(n->subnets[0].prefix));
  EXPECT_EQ(n->subnets[0].prefix.length(), 25);
}

TEST(Plan, PreprovisionedStepsCostNothing) {
  Topology t = Base();
  TopologyIndex idx(t);
  auto p = MakePlan(idx);
  ASSERT_TRUE(p.ok());
  ASSERT_GE(p->steps.size(), 2u);
  EXPECT_EQ(p->steps[0].action, "create-gateway");
  EXPECT_TRUE(p->steps[0].preprovisioned);
  EXPECT_EQ(p->steps[1].action, "create-connection");
  EXPECT_TRUE(p->steps[1].preprovisioned);
  EXPECT_FALSE(HasConflict(*p, "missing-gateway"));
}

TEST(Plan, MissingGatewaySingleCircuitRetain) {
  Topology t = Parse(std::string(kBaseYaml));
  t.dr->ip_strategy = "retain";
  t.dr->network_mapping[0].target = "hub-new";
  t.connections.pop_back();
  t.circuits.pop_back();  // one circuit
  TopologyIndex idx(t);
  PlanOptions o;
  auto p = MakePlan(idx, o);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(HasConflict(*p, "missing-gateway"));
  EXPECT_TRUE(HasConflict(*p, "same-space-one-circuit"));
  ASSERT_GE(p->steps.size(), 3u);
  EXPECT_EQ(p->steps[0].action, "disconnect-connection");  // disconnect before connect
  EXPECT_EQ(p->steps[1].action, "create-gateway");
  EXPECT_DOUBLE_EQ(p->steps[1].minutes, o.gateway_minutes);
  EXPECT_EQ(p->steps[2].action, "create-connection");
  double sum = 0;
  for (const auto& s : p->steps) sum += s.minutes;
  EXPECT_DOUBLE_EQ(p->rto_network_minutes, sum);
}

TEST(Plan, PremiumNeededAcrossAreas) {
  Topology t = Base();
  t.regions[1].geo = "europe";
  t.connections.pop_back();
  t.circuits.pop_back();
  TopologyIndex idx(t);
  auto p = MakePlan(idx);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(HasConflict(*p, "premium-needed"));
}

TEST(Plan, NoDrSectionIsAnError) {
  Topology t = Base();
  t.dr.reset();
  TopologyIndex idx(t);
  EXPECT_EQ(MakePlan(idx).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace lifeline::net::testing
