// Rule gwsubnet.name: a VNet with a gateway has a subnet named exactly "GatewaySubnet".
#include "net/checks/rule_util.h"
#include "net/names.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSubnetName, "gwsubnet.name", Severity::kError, "GW",
            "a VNet with a gateway has a subnet named exactly GatewaySubnet") {
  for (const auto& v : ctx.topo.vnets) {
    const Subnet* exact = FindSubnet(v, kGatewaySubnet);
    for (const auto& s : v.subnets) {
      if (s.name != kGatewaySubnet && EditDistance(s.name, kGatewaySubnet) <= 2) {
        out.Add(s.loc, "subnet " + v.name + "/" + s.name,
                "subnet '" + s.name +
                    "' looks like the gateway subnet but the name must be "
                    "exactly 'GatewaySubnet'",
                "rename it to GatewaySubnet");
      }
    }
    if (!v.gateways.empty() && !exact) {
      out.Add(v.loc, "vnet " + v.name,
              "vnet '" + v.name + "' has a gateway but no subnet named GatewaySubnet",
              "add a subnet named GatewaySubnet (/27 or larger) for the gateway");
    }
  }
}

}  // namespace lifeline::net::checks
