// Rule peering.vlan-unique: no two peerings of a circuit share a VLAN id.
#include <map>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringVlan, "peering.vlan-unique", Severity::kError, "PEERCFG",
            "each peering of a circuit has its own VLAN id") {
  for (const auto& c : ctx.topo.circuits) {
    std::map<int, const CircuitPeering*> seen;
    for (const auto& p : c.peerings) {
      auto [it, fresh] = seen.emplace(p.vlan, &p);
      if (!fresh) {
        out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                "VLAN " + std::to_string(p.vlan) + " is already used by the " +
                    PeeringTypeName(it->second->type) + " peering",
                "give each peering its own VLAN id");
      }
    }
  }
}

}  // namespace lifeline::net::checks
