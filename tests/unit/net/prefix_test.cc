// IpPrefix: strict parsing (IPv4 and IPv6), containment, arithmetic.
#include "net/prefix.h"

#include <gtest/gtest.h>

namespace lifeline::net {
namespace {

TEST(Prefix, ParsesIpv4AndIpv6) {
  auto a = IpPrefix::Parse("10.1.0.0/24");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ToString(), "10.1.0.0/24");
  EXPECT_FALSE(a->v6());
  auto b = IpPrefix::Parse("2001:db8:0:0::/64");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ToString(), "2001:db8::/64");
  EXPECT_TRUE(b->v6());
  EXPECT_EQ(IpPrefix::Parse("::/0")->ToString(), "::/0");
  EXPECT_EQ(IpPrefix::Parse("fd00:1:2:3:4:5:6:0/126")->ToString(), "fd00:1:2:3:4:5:6:0/126");
}

TEST(Prefix, RejectsMalformed) {
  for (const char* bad :
       {"10.1.0.0", "10.1.0/24", "10.1.0.0/33", "256.1.0.0/16", "10.01.0.0/16", "10.1.0.0/ 24",
        "1.2.3.4.5/32", "2001:db8:::/64", "2001:db8::/129", "::1::/64", "gggg::/16", "", "/24",
        "10.1.0.0/024", "1:2:3:4:5:6:7:8:9/64"}) {
    EXPECT_FALSE(IpPrefix::Parse(bad).ok()) << bad;
  }
}

TEST(Prefix, HostBitsSuggestCanonical) {
  auto r = IpPrefix::Parse("10.1.0.5/24");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("did you mean 10.1.0.0/24"), std::string::npos);
}

TEST(Prefix, ContainsAndOverlaps) {
  IpPrefix a = *IpPrefix::Parse("10.10.10.0/24");
  IpPrefix b = *IpPrefix::Parse("10.10.10.128/25");
  IpPrefix c = *IpPrefix::Parse("10.10.11.0/24");
  EXPECT_TRUE(a.Contains(b));
  EXPECT_FALSE(b.Contains(a));
  EXPECT_TRUE(a.Overlaps(b));
  EXPECT_FALSE(a.Overlaps(c));
  EXPECT_FALSE(a.Overlaps(*IpPrefix::Parse("::/0")));  // families never overlap
  EXPECT_TRUE(IpPrefix::Parse("0.0.0.0/0")->Contains(c));
  EXPECT_TRUE(IpPrefix::Parse("172.20.0.0/16")->IsRfc1918());
  EXPECT_FALSE(IpPrefix::Parse("172.32.0.0/16")->IsRfc1918());
}

TEST(Prefix, SubprefixNextAndOrder) {
  IpPrefix a = *IpPrefix::Parse("10.0.0.0/8");
  EXPECT_EQ(a.Subprefix(24, 0).ToString(), "10.0.0.0/24");
  EXPECT_EQ(a.Subprefix(24, 257).ToString(), "10.1.1.0/24");
  IpPrefix n;
  ASSERT_TRUE(IpPrefix::Parse("10.0.255.0/24")->Next(&n));
  EXPECT_EQ(n.ToString(), "10.1.0.0/24");
  EXPECT_FALSE(IpPrefix::Parse("255.255.255.0/24")->Next(&n));
  EXPECT_LT(*IpPrefix::Parse("10.0.0.0/8"), *IpPrefix::Parse("10.0.0.0/16"));
  EXPECT_EQ(IpPrefix::Parse("10.0.0.0/30")->LastAddress().AddressString(), "10.0.0.3");
  EXPECT_EQ(IpPrefix::ParseAddress("10.10.10.10")->ToString(), "10.10.10.10/32");
}

}  // namespace
}  // namespace lifeline::net
