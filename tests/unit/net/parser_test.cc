// The topology parser: the example of NETWORK_MODEL.md §1 parses; every kind of error has
// file:line:col and, for typos, a suggestion.
#include <fstream>

#include "test_util.h"

namespace lifeline::net::testing {
namespace {

std::string ErrorOf(const std::string& yaml) {
  auto t = ParseTopology(yaml, "t.yaml");
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : t.status().message();
}

TEST(Parser, BaseParsesWithPositions) {
  Topology t = Base();
  ASSERT_EQ(t.vnets.size(), 4u);
  EXPECT_EQ(t.vnets[0].name, "hub");
  EXPECT_EQ(t.vnets[0].loc.line, 17);
  EXPECT_EQ(t.vnets[0].gateways[0].sku, "ErGw1AZ");
  EXPECT_FALSE(t.vnets[0].gateways[0].public_ip->zone.has_value());
  EXPECT_EQ(t.circuits[0].peerings[0].primary_router, "e1");
  EXPECT_TRUE(t.circuits[0].peerings[0].bfd.enabled);
  EXPECT_EQ(t.circuits[0].peerings[0].bgp.hold_s, 180);  // default
  EXPECT_EQ(t.dr->ip_strategy, "new");
  EXPECT_TRUE(t.vnet_peerings[0].use_remote_gateways);
  EXPECT_TRUE(t.vnet_peerings[0].allow_vnet_access);  // default true
}

TEST(Parser, ExamplesParse) {
  for (const char* f : {"hub-spoke-two-circuits.yaml", "single-circuit-retain-ip.yaml",
                        "er-with-vpn-backup.yaml", "onprem-replication-microsoft-peering.yaml"}) {
    auto t = LoadTopology(std::string(LIFELINE_SOURCE_DIR) + "/examples/net/" + f);
    EXPECT_TRUE(t.ok()) << f << ": " << t.status().ToString();
  }
}

TEST(Parser, UnknownKeyWithSuggestion) {
  std::string e =
      ErrorOf("name: x\nvnets:\n  - name: a\n    region: r\n    adress_space: [10.0.0.0/16]\n");
  EXPECT_NE(e.find("t.yaml:5:5: unknown key 'adress_space'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'address_space'"), std::string::npos) << e;
}

TEST(Parser, UnknownTopLevelKey) {
  std::string e = ErrorOf("name: x\ncircuit: []\n");
  EXPECT_NE(e.find("t.yaml:2:1: unknown key 'circuit'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'circuits'"), std::string::npos) << e;
}

TEST(Parser, WrongTypes) {
  std::string e = ErrorOf("name: x\nsites:\n  - name: s\n    routers: [{name: r, asn: sixty}]\n");
  EXPECT_NE(e.find("t.yaml:4:30: 'asn' must be an integer"), std::string::npos) << e;
  e = ErrorOf("name: x\nvnet_peerings:\n  - {from: a, to: b, allow_vnet_access: yes}\n");
  EXPECT_NE(e.find("must be true or false"), std::string::npos) << e;
  e = ErrorOf("name: x\nregions: {name: a}\n");
  EXPECT_NE(e.find("t.yaml:2:10: 'regions' must be a list"), std::string::npos) << e;
}

TEST(Parser, BadCidrs) {
  std::string e = ErrorOf(
      "name: x\nregions: [{name: r, geo: g}]\nvnets:\n  - {name: a, region: r, "
      "address_space: [10.1.0.1/24]}\n");
  EXPECT_NE(e.find("t.yaml:4:42:"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 10.1.0.0/24"), std::string::npos) << e;
  e = ErrorOf(
      "name: x\nregions: [{name: r, geo: g}]\nvnets:\n  - {name: a, region: r, "
      "address_space: [2001:db8::/200]}\n");
  EXPECT_NE(e.find("invalid prefix length"), std::string::npos) << e;
}

TEST(Parser, DanglingReferencesWithSuggestion) {
  std::string e = ErrorOf(
      "name: x\nregions: [{name: eastasia, geo: g}]\nvnets:\n  - {name: a, "
      "region: eastasai, address_space: [10.0.0.0/16]}\n");
  EXPECT_NE(e.find("t.yaml:4:5: vnet 'a' refers to unknown region 'eastasai' (did you mean "
                   "'eastasia'?)"),
            std::string::npos)
      << e;
  std::string y = kBaseYaml;
  y.replace(y.find("gateway: hub/ergw"), 17, "gateway: hub/ergv");
  e = ErrorOf(y);
  EXPECT_NE(e.find("unknown gateway 'hub/ergv' (did you mean 'ergw'?)"), std::string::npos) << e;
  y = kBaseYaml;
  y.replace(y.find("secondary: e2"), 13, "secondary: e3");
  e = ErrorOf(y);
  EXPECT_NE(e.find("unknown router 'e3'"), std::string::npos) << e;
}

TEST(Parser, DuplicateNamesAndEnums) {
  std::string e = ErrorOf("name: x\nregions: [{name: a, geo: g}, {name: a, geo: g}]\n");
  EXPECT_NE(e.find("duplicate region name 'a'"), std::string::npos) << e;
  std::string y = kBaseYaml;
  y.replace(y.find("type: expressroute"), 18, "type: expresroute");
  e = ErrorOf(y);
  EXPECT_NE(e.find("did you mean 'expressroute'"), std::string::npos) << e;
}

TEST(Parser, YamlSyntaxErrorHasPosition) {
  std::string e = ErrorOf("name: x\nvnets: [\n  {name: a\n");
  EXPECT_NE(e.find("t.yaml:"), std::string::npos) << e;
  e = ErrorOf("");
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
}

TEST(Parser, DuplicateKeysAndErrorsInFileOrder) {
  std::string e = ErrorOf("name: x\nname: y\nregions: [{name: a, geo: g, gео: h}]\n");
  EXPECT_NE(e.find("t.yaml:2:1: duplicate key 'name'"), std::string::npos) << e;
  size_t first = e.find("t.yaml:2:1"), second = e.find("t.yaml:3:");
  ASSERT_NE(second, std::string::npos) << e;
  EXPECT_LT(first, second);
}

TEST(Parser, RefusesDeepNesting) {
  std::string deep(200, '[');
  EXPECT_NE(ErrorOf("name: " + deep).find("nesting"), std::string::npos);
}

TEST(Parser, ManyErrorsAreBounded) {
  std::string y = "name: x\nregions:\n";
  for (int i = 0; i < 200; ++i) y += "  - {name: r" + std::to_string(i) + ", gео: g}\n";
  std::string e = ErrorOf(y);
  EXPECT_NE(e.find("more errors not shown"), std::string::npos);
}

TEST(Parser, MissingFileIsNotFound) {
  auto t = LoadTopology("/nonexistent/topology.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace lifeline::net::testing
