// Rule addr.global-reach: a Global Reach prefix is an IPv4 /29 (or IPv6 /125) used nowhere
// else: not in any VNet, site or other Global Reach connection.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrGlobalReach, "addr.global-reach", Severity::kError, "GR, FAQ",
            "Global Reach /29 overlaps no VNet, on-premises network or other Global Reach") {
  const auto& gr = ctx.topo.global_reach;
  for (size_t i = 0; i < gr.size(); ++i) {
    const auto& g = gr[i];
    std::string el = "global_reach " + g.circuit_a + " <-> " + g.circuit_b;
    int want = g.prefix.v6() ? 125 : 29;
    if (g.prefix.length() != want) {
      out.Add(g.loc, el, "prefix " + g.prefix.ToString() + " must be a /" + std::to_string(want),
              "give Global Reach a /29 of its own");
    }
    std::vector<std::string> hits;
    for (const auto& v : ctx.topo.vnets)
      for (const auto& a : v.address_space)
        if (a.Overlaps(g.prefix)) hits.push_back("vnet '" + v.name + "' " + a.ToString());
    for (const auto& s : ctx.topo.sites)
      for (const auto& a : s.prefixes)
        if (a.Overlaps(g.prefix)) hits.push_back("site '" + s.name + "' " + a.ToString());
    for (size_t j = 0; j < i; ++j)
      if (gr[j].prefix.Overlaps(g.prefix))
        hits.push_back("global_reach " + gr[j].prefix.ToString());
    if (!hits.empty()) {
      out.Add(g.loc, el, "prefix " + g.prefix.ToString() + " overlaps " + Join(hits),
              "pick a /29 that no VNet or on-premises network uses");
    }
  }
}

}  // namespace lifeline::net::checks
