// Rule peering.ms-public-only: Microsoft peering carries public prefixes only: no RFC 1918
// and no default route, in the link subnets, announcements and NAT pool.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringMsPublic, "peering.ms-public-only", Severity::kError, "ROUT, PEERCFG, FAQ",
            "Microsoft peering: public prefixes only (no RFC 1918, no default route)") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      if (p.type != PeeringType::kMicrosoft) continue;
      std::vector<std::string> bad;
      auto scan = [&](const IpPrefix& x, const char* what) {
        if (x.IsRfc1918() || x.IsDefault()) bad.push_back(std::string(what) + " " + x.ToString());
      };
      if (p.primary_prefix) scan(*p.primary_prefix, "primary_prefix");
      if (p.secondary_prefix) scan(*p.secondary_prefix, "secondary_prefix");
      for (const auto& a : p.advertise) scan(a, "advertise");
      for (const auto& a : p.nat_pool) scan(a, "nat_pool");
      if (!bad.empty()) {
        out.Add(p.loc, "circuit " + c.name + " peering microsoft",
                "private or default prefixes on Microsoft peering: " + Join(bad),
                "use public prefixes registered to you (RIR/IRR); private ones are dropped");
      }
    }
  }
}

}  // namespace lifeline::net::checks
