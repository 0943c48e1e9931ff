// Rule vnetpeer.own-gateway: a VNet with its own gateway cannot use a remote gateway.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VnetPeerOwnGateway, "vnetpeer.own-gateway", Severity::kError, "VNPAPI, VPNDIFF",
            "use_remote_gateways is not set on a VNet that has its own gateway") {
  for (const auto& p : ctx.topo.vnet_peerings) {
    const Vnet* v = ctx.index.FindVnet(p.from);
    if (p.use_remote_gateways && v && !v->gateways.empty()) {
      out.Add(p.loc, "vnet peering " + p.from + " -> " + p.to,
              "vnet '" + p.from + "' has its own gateway and also sets use_remote_gateways",
              "remove the local gateway or clear use_remote_gateways");
    }
  }
}

}  // namespace lifeline::net::checks
