// Rule change.premium-off: Premium is disabled only while usage fits Standard (links,
// routes, cross-area VNets).
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_CHANGE_RULE(ChangePremiumOff, "change.premium-off", Severity::kError, "FAQ, CKT",
                   "Premium is turned off only while usage fits Standard limits") {
  for (const auto& c : ctx.topo.circuits) {
    const Circuit* o = ctx.old_index->FindCircuit(c.name);
    if (!o || !IsPremium(*o) || IsPremium(c)) continue;
    std::vector<std::string> over;
    int links = static_cast<int>(ctx.index.ConnectionsOfCircuit(c.name).size());
    if (links > 10) over.push_back(std::to_string(links) + " VNet links (> 10)");
    if (const CircuitPeering* p = c.Private()) {
      int v4 = 0;
      for (const auto& a : p->advertise) v4 += a.v6() ? 0 : 1;
      if (v4 > 4000) over.push_back(std::to_string(v4) + " private routes (> 4,000)");
    }
    std::string geo = ctx.index.CircuitGeo(c);
    for (const Connection* conn : ctx.index.ConnectionsOfCircuit(c.name)) {
      const Vnet* v = ctx.index.FindVnet(conn->gateway.vnet);
      if (v && ctx.index.RegionGeo(v->region) != geo)
        over.push_back("vnet '" + v->name + "' in another geopolitical area");
    }
    if (!over.empty()) {
      out.Add(c.sku.loc, "circuit " + c.name,
              "Premium turned off while usage exceeds Standard: " + Join(over) +
                  "; the downgrade fails",
              "reduce usage to Standard limits first, then disable Premium");
    }
  }
}

}  // namespace lifeline::net::checks
