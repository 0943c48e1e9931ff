// Rule circuit.link-limit: VNet links plus Global Reach connections per circuit within the
// limit for its SKU and bandwidth.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitLinkLimit, "circuit.link-limit", Severity::kError, "LIM, FAQ",
            "VNet links per circuit within the limit (Standard 10; Premium 20-100 by bandwidth)") {
  for (const auto& c : ctx.topo.circuits) {
    int links = static_cast<int>(ctx.index.ConnectionsOfCircuit(c.name).size());
    for (const auto& g : ctx.topo.global_reach)
      if (g.circuit_a == c.name || g.circuit_b == c.name) ++links;
    int limit = net::CircuitLinkLimit(c);
    if (links > limit) {
      out.Add(c.loc, "circuit " + c.name,
              std::to_string(links) + " VNet links and Global Reach connections; " + c.sku.tier +
                  " at " + std::to_string(c.bandwidth_mbps) + " Mbps allows " +
                  std::to_string(limit),
              IsPremium(c) ? "use a higher bandwidth or a second circuit"
                           : "enable Premium (20-100 links) or use a second circuit");
    }
  }
}

}  // namespace lifeline::net::checks
