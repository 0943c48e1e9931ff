// Rule gwsubnet.size: GatewaySubnet is /27 or larger, /26 or larger for 16 circuits.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwSubnetSize, "gwsubnet.size", Severity::kError, "GW, ADDGW, COEX",
            "GatewaySubnet is /27 or larger (/26 when the gateway connects more than 8 circuits)") {
  for (const auto& v : ctx.topo.vnets) {
    const Subnet* s = FindSubnet(v, kGatewaySubnet);
    if (!s || s->prefix.v6()) continue;
    int circuits = ConnectionCount(ctx.index, v);
    int want = circuits > 8 ? 26 : 27;
    if (s->prefix.length() > want) {
      out.Add(s->loc, "subnet " + v.name + "/" + kGatewaySubnet,
              "GatewaySubnet " + s->prefix.ToString() + " is smaller than /" +
                  std::to_string(want) +
                  (circuits > 8 ? " (needed to connect up to 16 circuits)" : ""),
              "enlarge it to /" + std::to_string(want) +
                  " or larger (an existing gateway must be deleted first)");
    }
  }
}

}  // namespace lifeline::net::checks
