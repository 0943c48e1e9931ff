// Rule change.gateway-resize: a gateway SKU changes only within its family (non-AZ <-> non-AZ,
// AZ <-> AZ); the only downgrades are HighPerformance -> Standard and ErGw2AZ -> ErGw1AZ;
// ErGw1-3AZ may move to ErGwScale in place.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {
namespace {
int Rank(const std::string& s) {
  if (s == "Standard" || s == "ErGw1AZ") return 1;
  if (s == "HighPerformance" || s == "ErGw2AZ") return 2;
  if (s == "UltraPerformance" || s == "ErGw3AZ") return 3;
  return 0;
}
}  // namespace

LL_NET_CHANGE_RULE(ChangeGatewayResize, "change.gateway-resize", Severity::kError, "GW, SCALE",
                   "gateway SKU resizes stay within a family; else delete and re-create") {
  for (const auto& v : ctx.topo.vnets) {
    const Vnet* ov = ctx.old_index->FindVnet(v.name);
    if (!ov) continue;
    for (const auto& g : v.gateways) {
      if (g.type != GatewayType::kExpressRoute) continue;
      const Gateway* og = ctx.old_index->GatewayOfType(*ov, GatewayType::kExpressRoute);
      if (!og || og->sku == g.sku) continue;
      const std::string& a = og->sku;
      const std::string& b = g.sku;
      bool ok;
      if (b == "ErGwScale") {
        ok = a == "ErGw1AZ" || a == "ErGw2AZ" || a == "ErGw3AZ";
      } else if (a == "ErGwScale") {
        ok = false;
      } else if (IsAzGatewaySku(a) != IsAzGatewaySku(b)) {
        ok = false;
      } else if (Rank(b) < Rank(a)) {
        ok = (a == "HighPerformance" && b == "Standard") || (a == "ErGw2AZ" && b == "ErGw1AZ");
      } else {
        ok = true;
      }
      if (!ok) {
        out.Add(g.loc, "gateway " + v.name + "/" + g.name,
                "SKU change " + a + " -> " + b + " is not an in-place resize",
                b == "ErGwScale" ? "migrate with the gateway migration tool (downtime possible)"
                                 : "delete and re-create the gateway (downtime): plan it");
      }
    }
  }
}

}  // namespace lifeline::net::checks
