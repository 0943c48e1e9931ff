// Rule dr.drill-isolated: drills (test failovers) use an isolated network of their own.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrDrillIsolated, "dr.drill-isolated", Severity::kWarning, "ASR2",
            "each mapping names an isolated drill network") {
  if (!ctx.topo.dr) return;
  for (const auto& m : ctx.topo.dr->network_mapping) {
    std::string el = "dr mapping " + m.source;
    if (m.drill.empty()) {
      out.Add(m.loc, el, "no drill network: a test failover would use the recovery network",
              "add drill: NAME, an isolated network with no peering or circuit connection");
      continue;
    }
    if (m.drill == m.target || m.drill == m.source) {
      out.Add(m.loc, el,
              "the drill network is the " + std::string(m.drill == m.target ? "target" : "source") +
                  " network",
              "use a separate, isolated drill network");
      continue;
    }
    const Vnet* d = ctx.index.FindVnet(m.drill);
    if (d && (!ctx.index.PeeringsFrom(d->name).empty() ||
              !ctx.index.ConnectionsOfVnet(d->name).empty() || !d->gateways.empty())) {
      out.Add(d->loc, "vnet " + d->name,
              "drill network '" + d->name +
                  "' is peered or connected: a drill could clash "
                  "with production addresses",
              "remove its peerings, gateways and connections");
    }
  }
}

}  // namespace lifeline::net::checks
