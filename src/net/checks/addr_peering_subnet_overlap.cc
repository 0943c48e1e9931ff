// Rule addr.peering-subnet-vnet: peering link subnets overlap no VNet address space.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrPeeringSubnetVnet, "addr.peering-subnet-vnet", Severity::kError, "ROUT, PEERCFG",
            "peering /30s do not overlap any VNet address space") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      for (const auto& q : {p.primary_prefix, p.secondary_prefix}) {
        if (!q) continue;
        for (const auto& v : ctx.topo.vnets) {
          for (const auto& a : v.address_space) {
            if (a.Overlaps(*q)) {
              out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                      "link subnet " + q->ToString() + " overlaps address space " + a.ToString() +
                          " of vnet '" + v.name + "'",
                      "take the peering /30s from a range no VNet uses");
            }
          }
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
