#include "control/netmap.h"

#include "test_util.h"

namespace lifeline::control {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }
Cidr Net(const char* s) { return *Cidr::Parse(s); }

NetworkMap V4Map() {
  NetworkMap map;
  NetworkMapping m;
  m.source = "lan";
  m.recovery = {"lan-dr", Net("10.0.0.0/24"), Ip("10.0.0.1"), {Ip("10.0.0.2")}};
  m.drill = {"lan-drill", Net("172.16.0.0/29"), Ip("172.16.0.1"), {}};
  EXPECT_TRUE(map.AddMapping(m).ok());
  return map;
}

TEST(Cidr, ParseAndContains) {
  EXPECT_TRUE(Net("10.0.0.0/24").Contains(Ip("10.0.0.200")));
  EXPECT_FALSE(Net("10.0.0.0/24").Contains(Ip("10.0.1.1")));
  EXPECT_FALSE(Net("10.0.0.0/24").Contains(Ip("::1")));
  EXPECT_TRUE(Net("0.0.0.0/0").Contains(Ip("8.8.8.8")));
  EXPECT_TRUE(Net("fd00:1::/64").Contains(Ip("fd00:1::abcd")));
  auto host_bits = Cidr::Parse("10.0.0.5/24");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.status().message().find("did you mean 10.0.0.0/24"), std::string::npos);
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0/24").ok());
  EXPECT_FALSE(Cidr::Parse("fd00::/129").ok());
  EXPECT_FALSE(IpAddress::Parse("300.1.1.1").ok());
  EXPECT_EQ(Net("fd00::/64").ToString(), "fd00::/64");
}

TEST(NetworkMap, KeepsAFreeContainedAddress) {
  NetworkMap map = V4Map();
  auto r = map.Assign(NetworkMode::kRecovery, {{"web1", 0, "lan", Ip("10.0.0.5")}}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ip.ToString(), "10.0.0.5");
  EXPECT_EQ((*r)[0].reason, "kept");
  EXPECT_EQ((*r)[0].network, "lan-dr");
  EXPECT_EQ((*r)[0].prefix_len, 24);
  EXPECT_EQ((*r)[0].gateway->ToString(), "10.0.0.1");
}

TEST(NetworkMap, TakenAddressFallsToStaticRuleThenNextFree) {
  NetworkMap map = V4Map();
  ASSERT_TRUE(map.AddStaticRule({"web1", 0, NetworkMode::kRecovery, Ip("10.0.0.50")}).ok());
  std::set<IpAddress> in_use = {Ip("10.0.0.5"), Ip("10.0.0.3")};
  auto r = map.Assign(NetworkMode::kRecovery,
                      {{"web1", 0, "lan", Ip("10.0.0.5")},
                       {"web2", 0, "lan", Ip("10.0.0.5")},
                       {"web3", 0, "lan", std::nullopt}},
                      in_use);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ip.ToString(), "10.0.0.50");
  EXPECT_EQ((*r)[0].reason, "static rule");
  // .0 network, .1 gateway, .2 reserved, .3 in use: .4 is the first free host.
  EXPECT_EQ((*r)[1].ip.ToString(), "10.0.0.4");
  EXPECT_EQ((*r)[1].reason, "next free");
  // Addresses given earlier in the same call are taken.
  EXPECT_EQ((*r)[2].ip.ToString(), "10.0.0.6");
}

TEST(NetworkMap, AddressOutsideTheTargetSubnetIsNotKept) {
  NetworkMap map = V4Map();
  auto r = map.Assign(NetworkMode::kDrill, {{"web1", 0, "lan", Ip("10.0.0.5")}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].network, "lan-drill");
  EXPECT_EQ((*r)[0].ip.ToString(), "172.16.0.2");
  EXPECT_EQ((*r)[0].reason, "next free");
}

TEST(NetworkMap, FullSubnetAndBroadcast) {
  NetworkMap map = V4Map();
  // 172.16.0.0/29: hosts .1-.6, .1 is the gateway: five addresses, never .7 (broadcast).
  std::vector<NicRequest> nics;
  for (int i = 0; i < 5; ++i) nics.push_back({"m" + std::to_string(i), 0, "lan", std::nullopt});
  auto r = map.Assign(NetworkMode::kDrill, nics, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->back().ip.ToString(), "172.16.0.6");
  nics.push_back({"m5", 0, "lan", std::nullopt});
  auto full = map.Assign(NetworkMode::kDrill, nics, {});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kNoSpace);
  EXPECT_NE(full.status().message().find("lan-drill"), std::string::npos);
}

TEST(NetworkMap, Errors) {
  NetworkMap map = V4Map();
  auto unmapped = map.Assign(NetworkMode::kRecovery, {{"web1", 0, "dmz", std::nullopt}}, {});
  ASSERT_FALSE(unmapped.ok());
  EXPECT_EQ(unmapped.status().code(), Code::kNotFound);
  EXPECT_NE(unmapped.status().message().find("dmz"), std::string::npos);
  ASSERT_TRUE(map.AddStaticRule({"web1", 0, NetworkMode::kDrill, Ip("10.0.0.9")}).ok());
  auto outside = map.Assign(NetworkMode::kDrill, {{"web1", 0, "lan", std::nullopt}}, {});
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().code(), Code::kFailedPrecondition);
  EXPECT_FALSE(map.AddStaticRule({"web1", 0, NetworkMode::kDrill, Ip("172.16.0.3")})
                   .ok());  // duplicate rule
  NetworkMapping dup;
  dup.source = "lan";
  dup.recovery = {"x", Net("10.9.0.0/24"), std::nullopt, {}};
  dup.drill = {"y", Net("10.8.0.0/24"), std::nullopt, {}};
  EXPECT_FALSE(map.AddMapping(dup).ok());
  dup.source = "lan2";
  dup.recovery.gateway = Ip("10.7.0.1");
  EXPECT_FALSE(map.AddMapping(dup).ok());  // gateway outside its subnet
}

TEST(NetworkMap, IPv6) {
  NetworkMap map;
  NetworkMapping m;
  m.source = "v6lan";
  m.recovery = {"v6-dr", Net("fd00:10::/64"), Ip("fd00:10::1"), {}};
  m.drill = {"v6-drill", Net("fd00:20::/126"), std::nullopt, {}};
  ASSERT_TRUE(map.AddMapping(m).ok());
  auto r =
      map.Assign(NetworkMode::kRecovery,
                 {{"a", 0, "v6lan", Ip("fd00:10::25")}, {"b", 0, "v6lan", Ip("fd00:10::25")}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ip.ToString(), "fd00:10::25");
  EXPECT_EQ((*r)[1].ip.ToString(), "fd00:10::2");  // ::0 anycast and ::1 gateway skipped
  auto d = map.Assign(NetworkMode::kDrill,
                      {{"a", 0, "v6lan", std::nullopt},
                       {"b", 0, "v6lan", std::nullopt},
                       {"c", 0, "v6lan", std::nullopt},
                       {"d", 0, "v6lan", std::nullopt}},
                      {});
  ASSERT_FALSE(d.ok());  // /126 holds ::1..::3 only
  EXPECT_EQ(d.status().code(), Code::kNoSpace);
}

TEST(NetworkMap, PointToPointPrefixes) {
  NetworkMap map;
  NetworkMapping m;
  m.source = "p2p";
  m.recovery = {"r", Net("192.0.2.0/31"), std::nullopt, {}};
  m.drill = {"d", Net("192.0.2.8/32"), std::nullopt, {}};
  ASSERT_TRUE(map.AddMapping(m).ok());
  auto r = map.Assign(NetworkMode::kRecovery,
                      {{"a", 0, "p2p", std::nullopt}, {"b", 0, "p2p", std::nullopt}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ip.ToString(), "192.0.2.0");
  EXPECT_EQ((*r)[1].ip.ToString(), "192.0.2.1");
  auto d = map.Assign(NetworkMode::kDrill, {{"a", 0, "p2p", std::nullopt}}, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].ip.ToString(), "192.0.2.8");
}

}  // namespace
}  // namespace lifeline::control
