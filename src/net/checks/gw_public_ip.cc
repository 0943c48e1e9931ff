// Rule gw.public-ip: gateways use a Standard public IP (Basic is retired).
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwPublicIp, "gw.public-ip", Severity::kError, "PIP, COEX, SCALE",
            "gateways use a Standard public IP; Basic public IPs were retired on 2025-09-30") {
  for (const auto& v : ctx.topo.vnets) {
    for (const auto& g : v.gateways) {
      if (g.public_ip && g.public_ip->sku == "basic") {
        out.Add(g.public_ip->loc, "gateway " + v.name + "/" + g.name,
                "Basic public IP: retired, gives no zone redundancy and blocks ExpressRoute/VPN "
                "coexistence",
                "use public_ip: {sku: standard, zone: null} for a zone-redundant gateway");
      }
    }
  }
}

}  // namespace lifeline::net::checks
