// Rule vpn.private-only: a VPN backs up private peering only; services reached over
// Microsoft peering have no VPN failover.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VpnPrivateOnly, "vpn.private-only", Severity::kAdvice, "COEX",
            "a site-to-site VPN backs up private peering only, never Microsoft peering") {
  for (const auto& vpn : ctx.topo.vpn_connections) {
    for (const auto& c : ctx.topo.circuits) {
      const Site* s = ctx.index.SiteOfCircuit(c);
      if (!s || s->name != vpn.site || !c.Microsoft()) continue;
      out.Add(vpn.loc, "vpn connection " + vpn.name,
              "site '" + vpn.site + "' also uses Microsoft peering on circuit '" + c.name +
                  "'; that traffic (e.g. replication to storage) has no VPN backup",
              "plan a second circuit at another location (or Internet fallback) for Microsoft "
              "peering traffic");
    }
  }
}

}  // namespace lifeline::net::checks
