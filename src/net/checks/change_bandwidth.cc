// Rule change.bandwidth-down: a circuit's bandwidth only goes up in place.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_CHANGE_RULE(ChangeBandwidth, "change.bandwidth-down", Severity::kError, "FAQ, CKT, UPG",
                   "circuit bandwidth is increased only; a decrease needs a new circuit") {
  for (const auto& c : ctx.topo.circuits) {
    const Circuit* o = ctx.old_index->FindCircuit(c.name);
    if (o && c.bandwidth_mbps < o->bandwidth_mbps) {
      out.Add(c.loc, "circuit " + c.name,
              "bandwidth lowered from " + std::to_string(o->bandwidth_mbps) + " to " +
                  std::to_string(c.bandwidth_mbps) + " Mbps: not possible in place",
              "create a new circuit at the lower bandwidth, move the links, delete the old one");
    }
  }
}

}  // namespace lifeline::net::checks
