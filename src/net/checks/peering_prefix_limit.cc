// Rule peering.prefix-limit: advertised prefixes within the peering's limit, or the BGP
// session drops on both links.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringPrefixLimit, "peering.prefix-limit", Severity::kError, "LIM, ROUT, FAQ",
            "advertised prefixes: 4,000 (Standard) / 10,000 (Premium) private, 100 IPv6, 200 "
            "Microsoft") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      int v4 = 0, v6 = 0;
      for (const auto& a : p.advertise) (a.v6() ? v6 : v4)++;
      for (bool six : {false, true}) {
        int n = six ? v6 : v4;
        int limit = AdvertiseLimit(c, p, six);
        if (n > limit) {
          out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                  std::to_string(n) + (six ? " IPv6" : " IPv4") +
                      " prefixes advertised; the "
                      "limit is " +
                      std::to_string(limit) + ": the BGP session drops on both links",
                  "summarize the announcements" +
                      std::string(p.type == PeeringType::kPrivate && !IsPremium(c) && !six
                                      ? " or enable Premium (10,000)"
                                      : ""));
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
