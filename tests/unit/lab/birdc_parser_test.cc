// The birdc reply parser against output captured from BIRD 2.0.12, and against malformed text.
#include "lab/birdc_parser.h"

#include <gtest/gtest.h>

namespace lifeline::lab {
namespace {

constexpr const char* kProtocols =
    "0001 BIRD 2.0.12 ready.\n"
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-device1    Device     ---        up     2026-11-23 08:41:55  \n"
    "     kernel1    Kernel     master4    up     2026-11-23 08:41:55  \n"
    "     bfd1       BFD        ---        up     2026-11-23 08:41:55  \n"
    "     p1         BGP        ---        up     2026-11-23 08:41:56  Established   \n"
    "     p2         BGP        ---        start  2026-11-23 08:41:57  Idle          "
    "Error: BFD session down\n";

constexpr const char* kRoutes =
    "0001 BIRD 2.0.12 ready.\n"
    "1007-Table master4:\n"
    "     10.60.0.0/16         unicast [p1 08:41:56.846] * (100) [AS65002i]\n"
    "     \tvia 10.99.0.2 on x0\n"
    "                          unicast [p3 08:41:57.001] (100) [AS65003i]\n"
    "     \tvia 10.99.0.6 on x1\n"
    "     10.50.0.0/16         blackhole [s_adv 08:41:55.345] * (200)\n";

constexpr const char* kBfd =
    "0001 BIRD 2.0.12 ready.\n"
    "1020-bfd1:\n"
    "     IP address                Interface  State      Since         Interval  Timeout\n"
    "     10.99.0.2                 x0         Up         2026-11-23 08:41:56    0.300    0.900\n"
    "     10.99.0.6                 x1         Down       2026-11-23 08:42:00    1.000    0.000\n";

TEST(BirdcParser, Protocols) {
  auto ps = ParseProtocols(kProtocols);
  ASSERT_EQ(ps.size(), 5u);
  EXPECT_EQ(ps[0].name, "device1");
  EXPECT_EQ(ps[3].name, "p1");
  EXPECT_EQ(ps[3].proto, "BGP");
  EXPECT_EQ(ps[3].state, "up");
  EXPECT_EQ(ps[3].since, "2026-11-23 08:41:56");
  EXPECT_EQ(ps[3].info, "Established");
  EXPECT_EQ(ps[4].state, "start");
  EXPECT_EQ(ps[4].info, "Idle Error: BFD session down");
}

TEST(BirdcParser, Routes) {
  auto rs = ParseRoutes(kRoutes);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].prefix, "10.60.0.0/16");
  EXPECT_EQ(rs[0].protocol, "p1");
  EXPECT_TRUE(rs[0].best);
  EXPECT_TRUE(rs[0].source_bgp);
  EXPECT_EQ(rs[0].via, "10.99.0.2");
  EXPECT_EQ(rs[0].interface, "x0");
  EXPECT_EQ(rs[1].prefix, "10.60.0.0/16");
  EXPECT_EQ(rs[1].protocol, "p3");
  EXPECT_FALSE(rs[1].best);
  EXPECT_EQ(rs[1].via, "10.99.0.6");
  EXPECT_EQ(rs[2].type, "blackhole");
  EXPECT_FALSE(rs[2].source_bgp);
  EXPECT_EQ(rs[2].preference, 200);
  EXPECT_EQ(rs[2].via, "");
}

TEST(BirdcParser, Bfd) {
  auto bs = ParseBfdSessions(kBfd);
  ASSERT_EQ(bs.size(), 2u);
  EXPECT_EQ(bs[0].address, "10.99.0.2");
  EXPECT_EQ(bs[0].state, "Up");
  EXPECT_DOUBLE_EQ(bs[0].interval_s, 0.3);
  EXPECT_DOUBLE_EQ(bs[0].timeout_s, 0.9);
  EXPECT_EQ(bs[1].state, "Down");
}

TEST(BirdcParser, ContinuationLinesInheritTheCode) {
  auto ls = ParseBirdReply("1002-a\n b\n0000 \n");
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[1].code, 1002);
  EXPECT_EQ(ls[1].text, "b");
  EXPECT_EQ(ls[2].code, 0);
}

TEST(BirdcParser, MalformedInputIsSkippedNotFatal) {
  EXPECT_TRUE(ParseProtocols("").empty());
  EXPECT_TRUE(ParseProtocols("garbage\n  more garbage\n").empty());
  EXPECT_TRUE(ParseProtocols("1002-onlytwo cols\n").empty());
  EXPECT_TRUE(ParseRoutes("1007-\n \tvia 1.2.3.4\n").empty());    // via with no route
  EXPECT_TRUE(ParseRoutes("1007-10.0.0.0/8 unicast\n").empty());  // no protocol
  EXPECT_TRUE(ParseBfdSessions("1020-bfd1:\n x\n").empty());
  EXPECT_TRUE(ParseBirdReply("12-x\n1\n").empty());
  // Errors from BIRD carry other codes and produce no rows.
  EXPECT_TRUE(ParseRoutes("8001 Network not found\n").empty());
  EXPECT_TRUE(ParseProtocols("9001 syntax error\n").empty());
}

}  // namespace
}  // namespace lifeline::lab
