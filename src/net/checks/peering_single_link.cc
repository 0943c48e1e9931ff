// Rule peering.single-link: both links (two BGP sessions) are configured; with one, there
// is no SLA and a single failure cuts the peering.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringSingleLink, "peering.single-link", Severity::kWarning, "ROUT, HA",
            "both links of a peering are configured (no SLA with one)") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      if (p.primary_router.empty() || p.secondary_router.empty()) {
        out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                "only one link has a BGP session: no SLA, and one failure cuts the peering",
                "configure links.primary and links.secondary, ideally on two routers");
      } else if (p.primary_router == p.secondary_router) {
        out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                "both links end on router '" + p.primary_router +
                    "': one router failure cuts "
                    "the peering",
                "terminate the secondary link on a second router");
      }
    }
  }
}

}  // namespace lifeline::net::checks
