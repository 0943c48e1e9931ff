// Rule gw.sku: gateway SKU names are valid for the gateway's type; ErGwScale has units.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSku, "gw.sku", Severity::kError, "GWSKU, SCALE, COEX",
            "gateway SKU names are valid for their type (ErGwScale with 1-40 scale units)") {
  for (const auto& v : ctx.topo.vnets) {
    for (const auto& g : v.gateways) {
      std::string el = "gateway " + v.name + "/" + g.name;
      if (g.type == GatewayType::kExpressRoute && !IsErGatewaySku(g.sku)) {
        out.Add(g.loc, el, "'" + g.sku + "' is not an ExpressRoute gateway SKU",
                "use one of ErGw1AZ, ErGw2AZ, ErGw3AZ, ErGwScale (or legacy Standard, "
                "HighPerformance, UltraPerformance)");
      } else if (g.type == GatewayType::kVpn && !IsVpnGatewaySku(g.sku)) {
        out.Add(g.loc, el, "'" + g.sku + "' is not a VPN gateway SKU",
                "use VpnGw1..VpnGw5 or their AZ variants");
      } else if (g.type == GatewayType::kExpressRoute && g.sku == "ErGwScale" &&
                 g.scale_units == 0) {
        out.Add(g.loc, el, "ErGwScale needs scale_units (1-40)",
                "set scale_units: the minimum number of scale units");
      }
    }
  }
}

}  // namespace lifeline::net::checks
