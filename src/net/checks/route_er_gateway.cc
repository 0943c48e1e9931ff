// Rule route.er-gateway-next-hop: no user route sends traffic to an ExpressRoute gateway (a
// "gateway" next hop is allowed only for a VPN gateway without a coexisting ExpressRoute one).
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(RouteErGateway, "route.er-gateway-next-hop", Severity::kError, "UDR",
            "no user route targets the ExpressRoute gateway") {
  for (const auto& rt : ctx.topo.route_tables) {
    for (const auto& r : rt.routes) {
      if (r.next_hop != NextHopType::kGateway) continue;
      for (const auto& ref : rt.subnets) {
        const Vnet* v = ctx.index.FindVnet(ref.vnet);
        const Vnet* gwv = v ? ctx.index.GatewayVnet(*v) : nullptr;
        bool er = gwv && HasErGateway(*gwv);
        bool vpn = gwv && ctx.index.GatewayOfType(*gwv, GatewayType::kVpn);
        if (er || !vpn) {
          out.Add(r.loc, "route table " + rt.name + " route " + r.prefix.ToString(),
                  std::string("next_hop: gateway on ") + ref.vnet + "/" + ref.subnet + ": " +
                      (er ? "an ExpressRoute gateway cannot be a user-route next hop "
                            "(ExpressRoute routes come only from BGP)"
                          : "there is no VPN gateway to send to"),
                  "remove the route and let BGP propagate the on-premises prefixes");
          break;
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
