// Rule vpn.encryption-overlap: with IPsec over private peering, prefixes announced both on
// the circuit and on the VPN make traffic take the circuit, unencrypted.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VpnEncryptionOverlap, "vpn.encryption-overlap", Severity::kWarning, "COEX",
            "a VPN over private peering announces more specific or disjoint prefixes") {
  for (const auto& vpn : ctx.topo.vpn_connections) {
    if (vpn.over_circuit.empty()) continue;
    const Circuit* c = ctx.index.FindCircuit(vpn.over_circuit);
    const Site* s = ctx.index.FindSite(vpn.site);
    const CircuitPeering* p = c ? c->Private() : nullptr;
    if (!p || !s) continue;
    std::vector<std::string> same;
    for (const auto& a : s->prefixes)
      for (const auto& b : p->advertise)
        if (a == b) same.push_back(a.ToString());
    if (!same.empty()) {
      out.Add(vpn.loc, "vpn connection " + vpn.name,
              "prefixes " + Join(same) + " are announced over circuit '" + c->name +
                  "' and over this VPN; Azure prefers the circuit, so traffic skips IPsec",
              "announce more specific (or disjoint) prefixes over the VPN than over the circuit");
    }
  }
}

}  // namespace lifeline::net::checks
