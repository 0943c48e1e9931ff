// Rule gw.fastpath-sku: FastPath needs ErGw3AZ / UltraPerformance / ErGwScale >= 10 units.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(GwFastPath, "gw.fastpath-sku", Severity::kError, "FP, LINK, GW",
            "FastPath only on ErGw3AZ, UltraPerformance or ErGwScale with at least 10 units") {
  for (const auto& c : ctx.topo.connections) {
    if (!c.fastpath) continue;
    const Gateway* g = ctx.index.FindGateway(c.gateway);
    if (g && !ErGatewaySupportsFastPath(*g)) {
      out.Add(c.loc, "connection " + c.name,
              "FastPath is enabled but gateway " + c.gateway.ToString() + " is " + g->sku,
              "use ErGw3AZ / UltraPerformance / ErGwScale (>= 10 units), or set fastpath: false");
    }
  }
}

}  // namespace lifeline::net::checks
