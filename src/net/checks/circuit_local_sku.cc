// Rule circuit.local-sku: a Local circuit has no Global Reach and reaches only the one or two
// regions near its peering location (same geopolitical area, at most two regions).
#include <set>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitLocalSku, "circuit.local-sku", Severity::kError, "FAQ",
            "Local circuits: no Global Reach, only 1-2 nearby regions") {
  for (const auto& c : ctx.topo.circuits) {
    if (!IsLocal(c)) continue;
    std::string el = "circuit " + c.name;
    for (const auto& g : ctx.topo.global_reach) {
      if (g.circuit_a == c.name || g.circuit_b == c.name) {
        out.Add(g.loc, el, "Global Reach is not available on a Local circuit",
                "upgrade the circuit to Standard or Premium (needs UnlimitedData)");
      }
    }
    std::set<std::string> regions;
    std::string geo = ctx.index.CircuitGeo(c);
    for (const Connection* conn : ctx.index.ConnectionsOfCircuit(c.name)) {
      const Vnet* v = ctx.index.FindVnet(conn->gateway.vnet);
      if (!v) continue;
      regions.insert(v->region);
      if (ctx.index.RegionGeo(v->region) != geo) {
        out.Add(conn->loc, el,
                "Local circuit linked to vnet '" + v->name + "' in region '" + v->region +
                    "', far from peering location '" + c.peering_location + "'",
                "link only VNets in the region(s) next to the peering location, or use "
                "Standard/Premium");
      }
    }
    if (regions.size() > 2) {
      out.Add(c.loc, el,
              "Local circuit linked to VNets in " + std::to_string(regions.size()) +
                  " regions; Local reaches only 1 or 2",
              "use Standard (same geopolitical area) or Premium (global)");
    }
  }
}

}  // namespace lifeline::net::checks
