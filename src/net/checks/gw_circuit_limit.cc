// Rule gw.circuit-limit: circuits per ExpressRoute gateway within its SKU's limit, at most
// 4 from one peering location.
#include <map>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwCircuitLimit, "gw.circuit-limit", Severity::kError, "LIM, GW",
            "circuits per gateway within the SKU limit (4/8/16), at most 4 from one location") {
  for (const auto& v : ctx.topo.vnets) {
    const Gateway* g = ctx.index.GatewayOfType(v, GatewayType::kExpressRoute);
    if (!g) continue;
    const auto& conns = ctx.index.ConnectionsOfVnet(v.name);
    int limit = ErGatewayMaxCircuits(*g);
    std::string el = "gateway " + v.name + "/" + g->name;
    if (static_cast<int>(conns.size()) > limit) {
      out.Add(g->loc, el,
              std::to_string(conns.size()) + " circuits connected; SKU " + g->sku + " allows " +
                  std::to_string(limit),
              "use a larger SKU (ErGw2AZ: 8, ErGw3AZ: 16) or fewer circuits");
    }
    std::map<std::string, int> per_location;
    for (const Connection* c : conns) {
      const Circuit* ck = ctx.index.FindCircuit(c->circuit);
      if (ck && ++per_location[ck->peering_location] == kMaxCircuitsPerLocationPerVnet + 1) {
        out.Add(c->loc, "connection " + c->name,
                "more than 4 circuits from peering location '" + ck->peering_location +
                    "' are linked to vnet '" + v.name + "'",
                "link at most 4 circuits per peering location to one VNet");
      }
    }
  }
}

}  // namespace lifeline::net::checks
