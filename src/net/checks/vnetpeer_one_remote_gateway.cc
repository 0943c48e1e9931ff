// Rule vnetpeer.one-remote-gateway: at most one peering per VNet uses remote gateways.
#include <map>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VnetPeerOneRemoteGateway, "vnetpeer.one-remote-gateway", Severity::kError, "VNPAPI",
            "at most one peering per VNet sets use_remote_gateways") {
  std::map<std::string, int> count;
  for (const auto& p : ctx.topo.vnet_peerings) {
    if (p.use_remote_gateways && ++count[p.from] == 2) {
      out.Add(p.loc, "vnet peering " + p.from + " -> " + p.to,
              "vnet '" + p.from + "' already uses the gateway of another peered VNet",
              "keep use_remote_gateways on one peering only");
    }
  }
}

}  // namespace lifeline::net::checks
