// Rule gw.one-per-type: at most one ExpressRoute and one VPN gateway per VNet.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwOnePerType, "gw.one-per-type", Severity::kError, "GW",
            "a VNet has at most one gateway of each type (ExpressRoute, VPN)") {
  for (const auto& v : ctx.topo.vnets) {
    int er = 0, vpn = 0;
    for (const auto& g : v.gateways) {
      int& n = g.type == GatewayType::kVpn ? vpn : er;
      if (++n == 2) {
        out.Add(g.loc, "gateway " + v.name + "/" + g.name,
                "vnet '" + v.name + "' already has a " + GatewayTypeName(g.type) + " gateway",
                "keep one gateway per type; connect more circuits to the same gateway");
      }
    }
  }
}

}  // namespace lifeline::net::checks
