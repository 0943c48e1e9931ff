// Rule peering.ms-route-filter: Microsoft peering without a route filter receives no routes.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringMsRouteFilter, "peering.ms-route-filter", Severity::kWarning, "RF, FAQ",
            "Microsoft peering has a route filter with at least one community") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      if (p.type != PeeringType::kMicrosoft) continue;
      if (!p.has_route_filter || p.route_filter_communities.empty()) {
        out.Add(p.loc, "circuit " + c.name + " peering microsoft",
                "no route filter (or an empty one): the peering receives no prefixes",
                "attach a route filter allowing the needed BGP communities (e.g. the regional "
                "Storage community 12076:520xx)");
      }
    }
  }
}

}  // namespace lifeline::net::checks
