// Rule gw.zone-placement: reports gateways that are not zone-redundant, as derived from the
// SKU and the public IP (Standard IP without zone + AZ SKU = zone-redundant).
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwZonePlacement, "gw.zone-placement", Severity::kAdvice, "ZR, GW",
            "gateways are zone-redundant (AZ SKU and a Standard public IP without a zone)") {
  for (const auto& v : ctx.topo.vnets) {
    for (const auto& g : v.gateways) {
      if (g.public_ip && g.public_ip->sku == "basic") continue;  // gw.public-ip reports it
      std::string el = "gateway " + v.name + "/" + g.name;
      if (!IsAzGatewaySku(g.sku)) {
        out.Add(g.loc, el,
                "SKU '" + g.sku +
                    "' places the gateway regionally, without zone "
                    "redundancy: a zone outage can take it down",
                "use an AZ SKU (ErGw1AZ..3AZ, ErGwScale, VpnGw1AZ..) with a Standard public IP");
      } else if (g.public_ip && g.public_ip->zone) {
        out.Add(g.loc, el,
                "the public IP pins every instance to zone " + std::to_string(*g.public_ip->zone) +
                    ": the gateway is zonal",
                "use a Standard public IP without a zone for a zone-redundant gateway");
      }
    }
  }
}

}  // namespace lifeline::net::checks
