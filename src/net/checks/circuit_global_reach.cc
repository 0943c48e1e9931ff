// Rule circuit.global-reach: Global Reach joins circuits at different peering locations, both
// with private peering, Premium on both when the areas differ.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitGlobalReach, "circuit.global-reach", Severity::kError, "GR, FAQ",
            "Global Reach: different locations, private peering on both, Premium across areas") {
  for (const auto& g : ctx.topo.global_reach) {
    const Circuit* a = ctx.index.FindCircuit(g.circuit_a);
    const Circuit* b = ctx.index.FindCircuit(g.circuit_b);
    if (!a || !b) continue;
    std::string el = "global_reach " + a->name + " <-> " + b->name;
    if (a->peering_location == b->peering_location) {
      out.Add(g.loc, el, "both circuits are at peering location '" + a->peering_location + "'",
              "connect circuits at different peering locations");
    }
    if (!a->Private() || !b->Private()) {
      out.Add(g.loc, el, "Global Reach needs private peering on both circuits",
              "configure private peering on both circuits first");
    }
    if (ctx.index.CircuitGeo(*a) != ctx.index.CircuitGeo(*b) &&
        (!IsPremium(*a) || !IsPremium(*b))) {
      out.Add(g.loc, el, "the circuits are in different geopolitical areas without Premium on both",
              "enable Premium on both circuits");
    }
  }
}

}  // namespace lifeline::net::checks
