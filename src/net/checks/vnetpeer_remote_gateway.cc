// Rule vnetpeer.remote-gateway: use_remote_gateways needs a gateway on the remote VNet and
// allow_gateway_transit on the remote side's peering.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VnetPeerRemoteGateway, "vnetpeer.remote-gateway", Severity::kError, "VNPAPI, VNP",
            "use_remote_gateways: the remote VNet has a gateway and allows gateway transit") {
  for (const auto& p : ctx.topo.vnet_peerings) {
    if (!p.use_remote_gateways) continue;
    const Vnet* remote = ctx.index.FindVnet(p.to);
    std::string el = "vnet peering " + p.from + " -> " + p.to;
    if (remote && remote->gateways.empty()) {
      out.Add(p.loc, el, "use_remote_gateways is set but vnet '" + p.to + "' has no gateway",
              "create the gateway in '" + p.to + "' first, or clear use_remote_gateways");
      continue;
    }
    const VnetPeering* back = ctx.index.FindPeering(p.to, p.from);
    if (back && !back->allow_gateway_transit) {
      out.Add(p.loc, el,
              "use_remote_gateways is set but the peering " + p.to + " -> " + p.from +
                  " does not allow gateway transit",
              "set allow_gateway_transit: true on the " + p.to + " -> " + p.from + " peering");
    }
  }
}

}  // namespace lifeline::net::checks
