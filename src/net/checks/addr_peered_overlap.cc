// Rule addr.peered-overlap: two peered VNets have disjoint address spaces.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrPeeredOverlap, "addr.peered-overlap", Severity::kError, "VNP",
            "peered VNets have non-overlapping address spaces") {
  for (const auto& p : ctx.topo.vnet_peerings) {
    const Vnet* a = ctx.index.FindVnet(p.from);
    const Vnet* b = ctx.index.FindVnet(p.to);
    if (!a || !b) continue;
    for (const auto& x : a->address_space) {
      for (const auto& y : b->address_space) {
        if (x.Overlaps(y)) {
          out.Add(p.loc, "vnet peering " + p.from + " -> " + p.to,
                  "address space " + x.ToString() + " of '" + p.from + "' overlaps " +
                      y.ToString() + " of '" + p.to + "'; Azure refuses the peering",
                  "re-address one VNet, or connect them another way than peering");
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
