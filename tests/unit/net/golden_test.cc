// The examples' outputs (check, routes, simulate, plan) compared with reviewed golden files
// in tests/unit/net/golden/. To regenerate after an intended change, run with
// LIFELINE_UPDATE_GOLDEN=1 and review the diff before committing it.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "net/report.h"
#include "test_util.h"

namespace lifeline::net::testing {
namespace {

struct Scenario {
  const char* example;                // examples/net/NAME.yaml
  std::vector<std::string> failures;  // one simulate run per entry ("a,b" for several)
  bool all_single = false;
  bool plan = true;
};

std::string Render(const Scenario& s) {
  std::string rel = std::string("examples/net/") + s.example + ".yaml";
  auto loaded = LoadTopology(std::string(LIFELINE_SOURCE_DIR) + "/" + rel);
  if (!loaded.ok()) return "load failed: " + loaded.status().ToString();
  Topology t = std::move(loaded).value();
  TopologyIndex idx(t);
  std::ostringstream os;
  os << "## net check\n";
  WriteFindingsText(os, rel, RunChecks(CheckContext{t, idx}));
  os << "## net routes\n";
  FailureSet none;
  RouteComputer rc(idx, none);
  for (const auto& table : rc.AllVnetTables()) WriteVnetRoutesText(os, table);
  for (const auto& site : t.sites)
    for (const auto& r : site.routers) WriteRouterRoutesText(os, rc.ForRouter(site, r));
  for (const auto& f : s.failures) {
    os << "## net simulate --fail " << f << "\n";
    std::vector<Element> es;
    std::stringstream ss(f);
    std::string item;
    while (std::getline(ss, item, ',')) {
      auto e = ResolveElement(idx, item);
      if (!e.ok()) return "bad element " + item;
      es.push_back(*e);
    }
    WriteSimulationText(os, Simulate(idx, es));
  }
  if (s.all_single) {
    os << "## net simulate --all-single-failures\n";
    WriteRankingText(os, SimulateAllSingleFailures(idx));
  }
  if (s.plan) {
    os << "## net plan\n";
    auto p = MakePlan(idx);
    if (p.ok()) WritePlanText(os, *p);
  }
  return os.str();
}

class GoldenTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(GoldenTest, MatchesReviewedOutput) {
  const Scenario& s = GetParam();
  std::string got = Render(s);
  std::string path = LIFELINE_SOURCE_DIR "/tests/unit/net/golden/" + std::string(s.example) + ".txt";
  if (std::getenv("LIFELINE_UPDATE_GOLDEN")) {
    std::ofstream(path) << got;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path;
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str()) << "output of " << s.example << " differs from " << path;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, GoldenTest,
    ::testing::Values(Scenario{"hub-spoke-two-circuits",
                               {"er-hk/primary", "er-hk", "hongkong", "hq-edge-1", "eastasia"},
                               true,
                               true},
                      Scenario{"single-circuit-retain-ip",
                               {"er-hk/primary", "hongkong", "hq-edge-1,hq-edge-2"},
                               true,
                               true},
                      Scenario{"er-with-vpn-backup",
                               {"er-ams/primary", "er-ams", "hq-edge-1", "hub/vpngw"},
                               true,
                               false},
                      Scenario{"onprem-replication-microsoft-peering",
                               {"er-hk", "hongkong,singapore"},
                               false,
                               true}),
    [](const ::testing::TestParamInfo<Scenario>& i) {
      std::string n;
      for (const char* c = i.param.example; *c; ++c)
        n += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
      return n;
    });

}  // namespace
}  // namespace lifeline::net::testing
