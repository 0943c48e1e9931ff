// The lab plan and BIRD configuration generated from the example topologies: names, addresses,
// timers, and configs that BIRD itself accepts (`bird -p`).
#include "lab/lab_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "lab/bird_config.h"
#include "lab/exec.h"
#include "net/topology_parser.h"

namespace lifeline::lab {
namespace {

net::Topology Load(const std::string& name) {
  auto t = net::LoadTopology(std::string(LIFELINE_SOURCE_DIR) + "/examples/net/" + name);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.value();
}

const RouterConfig* FindRouter(const LabPlan& p, const std::string& element) {
  for (const auto& r : p.routers)
    if (r.element == element) return &r;
  return nullptr;
}

TEST(LabPlan, TwoCircuitsNamespacesAndLinks) {
  net::Topology t = Load("hub-spoke-two-circuits.yaml");
  auto plan = BuildLabPlan(t, "t1");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  std::set<std::string> names;
  for (const auto& n : plan->namespaces) {
    EXPECT_EQ(n.name.rfind("ll-t1-", 0), 0u) << n.name;
    EXPECT_TRUE(names.insert(n.name).second) << "duplicate " << n.name;
  }
  // 1 site host + 2 routers + 4 MSEEs (2 circuits x 2 links) + 2 gateways + 4 VNets.
  EXPECT_EQ(plan->namespaces.size(), 13u);
  int circuit_links = 0;
  for (const auto& l : plan->links) {
    EXPECT_LE(l.if_a.size(), 15u);
    EXPECT_LE(l.if_b.size(), 15u);
    if (l.circuit.empty()) continue;
    ++circuit_links;
    if (l.element == "er-hk/primary") {
      EXPECT_EQ(l.addr_a, "192.168.100.129/30");
      EXPECT_EQ(l.addr_b, "192.168.100.130/30");
      EXPECT_EQ(l.rate_mbps, 1000);
      EXPECT_EQ(l.ns_a, "ll-t1-r-hq-edge-1");
    }
  }
  EXPECT_EQ(circuit_links, 4);
  const RouterConfig* edge1 = FindRouter(*plan, "hq-edge-1");
  ASSERT_NE(edge1, nullptr);
  EXPECT_EQ(edge1->asn, 65010u);
  bool saw_hk = false;
  for (const auto& n : edge1->neighbors) {
    if (n.circuit != "er-hk") continue;
    saw_hk = true;
    EXPECT_EQ(n.neighbor_asn, kMseeAsn);
    EXPECT_EQ(n.hold_s, 180);
    EXPECT_TRUE(n.bfd);
    EXPECT_EQ(n.bfd_interval_ms, 300);
    EXPECT_EQ(n.import_local_pref, 200);
  }
  EXPECT_TRUE(saw_hk);
  const RouterConfig* gw = FindRouter(*plan, "hub/ergw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(gw->asn, 65515u);
  // The hub gateway announces the hub and both spokes (gateway transit).
  std::set<std::string> statics;
  for (const auto& s : gw->statics) statics.insert(s.prefix);
  EXPECT_EQ(statics, (std::set<std::string>{"10.10.10.0/24", "10.1.0.0/24", "10.2.0.0/24"}));
}

TEST(LabPlan, MseeNeverFasterThan300ms) {
  net::Topology t = Load("er-with-vpn-backup.yaml");  // BFD 100 ms x 3 on the customer side
  auto plan = BuildLabPlan(t, "v");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const RouterConfig* msee = FindRouter(*plan, "er-ams/primary/msee");
  ASSERT_NE(msee, nullptr);
  bool saw = false;
  for (const auto& n : msee->neighbors) {
    if (n.neighbor_asn != 65010) continue;
    saw = true;
    EXPECT_EQ(n.bfd_interval_ms, 300);
    EXPECT_EQ(n.hold_s, 180);
  }
  EXPECT_TRUE(saw);
  // The VPN is a session from the site router to the VPN gateway, less preferred.
  const RouterConfig* edge1 = FindRouter(*plan, "hq-edge-1");
  ASSERT_NE(edge1, nullptr);
  int vpn_pref = 0, er_pref = 0;
  for (const auto& n : edge1->neighbors) {
    if (!n.vpn.empty()) vpn_pref = n.import_local_pref;
    if (!n.circuit.empty()) er_pref = n.import_local_pref;
  }
  EXPECT_GT(er_pref, vpn_pref);
  EXPECT_GT(vpn_pref, 0);
}

TEST(LabPlan, RejectsBadLabNames) {
  net::Topology t = Load("hub-spoke-two-circuits.yaml");
  EXPECT_FALSE(BuildLabPlan(t, "").ok());
  EXPECT_FALSE(BuildLabPlan(t, "Upper").ok());
  EXPECT_FALSE(BuildLabPlan(t, "toolongname").ok());
  EXPECT_FALSE(BuildLabPlan(t, "a/b").ok());
}

TEST(BirdConfig, RendersTimersBfdAndPolicy) {
  net::Topology t = Load("hub-spoke-two-circuits.yaml");
  auto plan = BuildLabPlan(t, "t1");
  ASSERT_TRUE(plan.ok());
  std::string conf = RenderBirdConfig(*FindRouter(*plan, "hq-edge-1"));
  EXPECT_NE(conf.find("local 192.168.100.129 as 65010;"), std::string::npos) << conf;
  EXPECT_NE(conf.find("neighbor 192.168.100.130 as 12076;"), std::string::npos);
  EXPECT_NE(conf.find("hold time 180;"), std::string::npos);
  EXPECT_NE(conf.find("bfd { interval 300 ms; multiplier 3; };"), std::string::npos);
  EXPECT_NE(conf.find("bgp_local_pref = 200;"), std::string::npos);
  EXPECT_NE(conf.find("route 192.168.0.0/16 via"), std::string::npos);
  EXPECT_NE(conf.find("error wait time"), std::string::npos);
  // `circuit` is a BIRD keyword: never a bare identifier.
  EXPECT_EQ(conf.find("protocol bgp circuit"), std::string::npos);
}

// Every generated config must parse in BIRD itself. Fails (never skips) without bird.
TEST(BirdConfig, EveryGeneratedConfigParsesInBird) {
  ASSERT_TRUE(HaveTool("bird")) << "bird (Debian package bird2) is required for this test";
  for (const char* file : {"hub-spoke-two-circuits.yaml", "er-with-vpn-backup.yaml",
                           "single-circuit-retain-ip.yaml"}) {
    net::Topology t = Load(file);
    auto plan = BuildLabPlan(t, "p");
    ASSERT_TRUE(plan.ok()) << file << ": " << plan.status().ToString();
    for (const auto& r : plan->routers) {
      std::string path = ::testing::TempDir() + "/lab_bird_" + std::to_string(getpid()) + ".conf";
      {
        std::ofstream f(path);
        f << RenderBirdConfig(r);
      }
      auto res = Exec({"bird", "-p", "-c", path});
      ASSERT_TRUE(res.ok());
      EXPECT_EQ(res->exit_code, 0) << file << " " << r.element << ":\n"
                                   << res->output << "\n"
                                   << RenderBirdConfig(r);
      unlink(path.c_str());
    }
  }
}

TEST(BirdConfig, BirdRejectsABrokenConfig) {
  // The check above can fail: a config BIRD cannot parse is reported.
  ASSERT_TRUE(HaveTool("bird")) << "bird (Debian package bird2) is required for this test";
  std::string path = ::testing::TempDir() + "/lab_bird_bad_" + std::to_string(getpid()) + ".conf";
  {
    std::ofstream f(path);
    f << "router id 1.2.3.4;\nprotocol bgp circuit { }\n";
  }
  auto res = Exec({"bird", "-p", "-c", path});
  ASSERT_TRUE(res.ok());
  EXPECT_NE(res->exit_code, 0);
  unlink(path.c_str());
}

}  // namespace
}  // namespace lifeline::lab
