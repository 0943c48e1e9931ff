// Rule vpn.coexist: a VPN gateway beside an ExpressRoute gateway is route-based, non-Basic
// and keeps ASN 65515.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VpnCoexist, "vpn.coexist", Severity::kError, "COEX",
            "a coexisting VPN gateway is route-based, non-Basic, with ASN 65515") {
  for (const auto& v : ctx.topo.vnets) {
    if (!HasErGateway(v)) continue;
    for (const auto& g : v.gateways) {
      if (g.type != GatewayType::kVpn) continue;
      std::string el = "gateway " + v.name + "/" + g.name;
      if (g.vpn_type == "policy_based") {
        out.Add(g.loc, el, "coexisting VPN gateway is policy-based",
                "use vpn_type: route_based (policy-based selectors may stay on the connection)");
      }
      if (g.sku == "Basic") {
        out.Add(g.loc, el, "the Basic VPN SKU cannot coexist with ExpressRoute",
                "use VpnGw1 or larger");
      }
      if (g.asn && *g.asn != kAzureGatewayAsn) {
        out.Add(g.loc, el,
                "VPN gateway ASN " + std::to_string(*g.asn) +
                    ": ExpressRoute and VPN work together only with the default 65515",
                "set asn: 65515 (changing it back needs a gateway reset)");
      }
    }
  }
}

}  // namespace lifeline::net::checks
