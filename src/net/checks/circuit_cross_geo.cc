// Rule circuit.cross-geo: a VNet linked from outside the circuit's geopolitical area needs
// Premium.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitCrossGeo, "circuit.cross-geo", Severity::kError, "LINK, FAQ",
            "a VNet outside the circuit's geopolitical area needs Premium") {
  for (const auto& conn : ctx.topo.connections) {
    const Circuit* c = ctx.index.FindCircuit(conn.circuit);
    const Vnet* v = ctx.index.FindVnet(conn.gateway.vnet);
    if (!c || !v || IsPremium(*c) || IsLocal(*c)) continue;  // Local: circuit.local-sku
    std::string cg = ctx.index.CircuitGeo(*c), vg = ctx.index.RegionGeo(v->region);
    if (cg != vg) {
      out.Add(conn.loc, "connection " + conn.name,
              "vnet '" + v->name + "' is in " + vg + " but circuit '" + c->name + "' (" +
                  c->sku.tier + ") is at " + c->peering_location + " in " + cg,
              "enable Premium on circuit '" + c->name + "', or use a circuit in " + vg);
    }
  }
}

}  // namespace lifeline::net::checks
