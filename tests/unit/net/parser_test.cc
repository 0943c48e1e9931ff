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
  std::string e = ErrorOf("name: " + deep);
  EXPECT_NE(e.find("t.yaml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("nesting deeper than 64 levels"), std::string::npos) << e;
  // Block nesting counts too.
  std::string block = "name: x\nregions:\n";
  for (int i = 0; i < 70; ++i) block += std::string(2 * i + 2, ' ') + "-\n";
  e = ErrorOf(block);
  EXPECT_NE(e.find("nesting deeper than 64 levels"), std::string::npos) << e;
  std::string dashes = "name: x\nregions:\n  ";
  for (int i = 0; i < 70; ++i) dashes += "- ";
  dashes += "x\n";
  e = ErrorOf(dashes);
  EXPECT_NE(e.find("nesting deeper than 64 levels"), std::string::npos) << e;
  // Brackets inside quotes or comments are not nesting.
  auto t = ParseTopology("name: '" + deep + "' # " + deep + "\n", "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, deep);
}

TEST(Parser, AnchorsAndAliasesAreExpanded) {
  auto t = ParseTopology(
      "name: x\nregions: [{name: a, geo: &g asia}, {name: b, geo: *g}]\n"
      "peering_locations:\n  - &loc {name: l1, geo: asia}\n",
      "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->regions.size(), 2u);
  EXPECT_EQ(t->regions[1].geo, "asia");
  // An aliased element is the same element again: its name is then a duplicate.
  std::string e = ErrorOf("name: x\nregions: [&r {name: a, geo: g}, *r]\n");
  EXPECT_NE(e.find("duplicate region name 'a'"), std::string::npos) << e;
}

TEST(Parser, BadAliasesAreRefused) {
  std::string e = ErrorOf("name: x\nregions: [{name: a, geo: *nowhere}]\n");
  EXPECT_NE(e.find("t.yaml:2:26: unknown anchor in alias '*nowhere'"), std::string::npos) << e;
  e = ErrorOf("name: x\nregions: &r [*r]\n");
  EXPECT_NE(e.find("t.yaml:2:14: alias '*r' refers to a node that contains it"), std::string::npos)
      << e;
  // "Billion laughs": each level doubles; the expansion bound stops it early.
  std::string y = "name: x\na0: &a0 [x, x]\n";
  for (int i = 1; i < 40; ++i) {
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
         ", *a" + std::to_string(i - 1) + "]\n";
  }
  e = ErrorOf(y);
  EXPECT_NE(e.find("aliases expand the document by more than 100000 nodes"), std::string::npos)
      << e;
}

TEST(Parser, OneDocumentOnly) {
  std::string e = ErrorOf("name: x\n---\nname: y\n");
  EXPECT_NE(e.find("t.yaml:2:1: a topology file holds one YAML document"), std::string::npos) << e;
  EXPECT_TRUE(ParseTopology("---\nname: x\n...\n", "t.yaml").ok());
}

TEST(Parser, NullsAndQuotedWords) {
  std::string e = ErrorOf("name: null\n");
  EXPECT_NE(e.find("missing required key 'name'"), std::string::npos) << e;
  e = ErrorOf("name: ~\nregions:\n");
  EXPECT_NE(e.find("missing required key 'name'"), std::string::npos) << e;
  auto t = ParseTopology("name: \"null\"\nregions: ~\n", "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, "null");
  EXPECT_TRUE(t->regions.empty());
  e = ErrorOf("name: x\nregions: [~]\n");
  EXPECT_NE(e.find("t.yaml:2:11: a region must be a mapping"), std::string::npos) << e;
  e = ErrorOf("name: x\nregions: [{? [a, b] : c}]\n");
  EXPECT_NE(e.find("keys of a region must be plain words"), std::string::npos) << e;
  e = ErrorOf("name: x\nsites: [{name: s, routers: [{name: r, asn: [1]}]}]\n");
  EXPECT_NE(e.find("'asn' must be a single value, not a list or mapping"), std::string::npos) << e;
}

TEST(Parser, EncodingAndSyntaxErrorsHavePositions) {
  std::string e = ErrorOf("name: x\nregions: [{name: \xff}]\n");
  EXPECT_NE(e.find("t.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("UTF-8"), std::string::npos) << e;
  e = ErrorOf("name: x\nregions: [{name: a, geo: b}\nvnets: []\n");
  EXPECT_NE(e.find("t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("while parsing a flow sequence at 2:10"), std::string::npos) << e;
  e = ErrorOf("name: x\n  bad: indent\n");
  EXPECT_NE(e.find("t.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("# only a comment\n").find("t.yaml:1:1: the file is empty"), std::string::npos);
  EXPECT_NE(ErrorOf("---\n").find("the file is empty"), std::string::npos);
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
