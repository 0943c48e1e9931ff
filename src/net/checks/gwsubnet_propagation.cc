// Rule gwsubnet.propagation: gateway route propagation stays on for GatewaySubnet.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSubnetPropagation, "gwsubnet.propagation", Severity::kError, "UDR, GWSUB",
            "gateway route propagation is never disabled on GatewaySubnet") {
  for (const auto& rt : ctx.topo.route_tables) {
    if (rt.propagate_gateway_routes) continue;
    for (const auto& ref : rt.subnets) {
      if (ref.subnet == kGatewaySubnet) {
        out.Add(ref.loc, "route table " + rt.name,
                "propagate_gateway_routes is false on " + ref.vnet + "/GatewaySubnet",
                "set propagate_gateway_routes: true, or use another table for GatewaySubnet");
      }
    }
  }
}

}  // namespace lifeline::net::checks
