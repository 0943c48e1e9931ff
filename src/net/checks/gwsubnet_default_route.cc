// Rule gwsubnet.default-route: no 0.0.0.0/0 user route on GatewaySubnet.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSubnetDefaultRoute, "gwsubnet.default-route", Severity::kError, "GWSUB, GW",
            "no route table with a 0.0.0.0/0 route is attached to GatewaySubnet") {
  for (const auto& rt : ctx.topo.route_tables) {
    for (const auto& ref : rt.subnets) {
      if (ref.subnet != kGatewaySubnet) continue;
      for (const auto& r : rt.routes) {
        if (r.prefix.IsDefault() && !r.prefix.v6()) {
          out.Add(r.loc, "route table " + rt.name,
                  "a 0.0.0.0/0 route applies to " + ref.vnet +
                      "/GatewaySubnet: not supported, "
                      "the gateway cannot be created or stops working",
                  "remove the default route from this table or detach it from GatewaySubnet");
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
