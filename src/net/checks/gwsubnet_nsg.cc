// Rule gwsubnet.nsg: no network security group on GatewaySubnet.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSubnetNsg, "gwsubnet.nsg", Severity::kError, "GWSUB",
            "no NSG is associated with GatewaySubnet") {
  for (const auto& v : ctx.topo.vnets) {
    const Subnet* s = FindSubnet(v, kGatewaySubnet);
    if (s && !s->nsg.empty()) {
      out.Add(s->loc, "subnet " + v.name + "/" + kGatewaySubnet,
              "NSG '" + s->nsg + "' is associated with GatewaySubnet; the gateway may stop working",
              "remove the NSG from GatewaySubnet");
    }
  }
}

}  // namespace lifeline::net::checks
