// Rule circuit.sku-name: sku.name is "<tier>_<family>" with a known tier and family.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitSkuName, "circuit.sku-name", Severity::kError, "SDK, BICEP, CKT",
            "sku.name = <tier>_<family>; tier Standard/Premium/Local; family Metered/Unlimited") {
  for (const auto& c : ctx.topo.circuits) {
    std::string el = "circuit " + c.name;
    const auto& s = c.sku;
    if (s.tier != "Standard" && s.tier != "Premium" && s.tier != "Local") {
      out.Add(s.loc, el,
              "sku.tier '" + s.tier + "' is not offered for new circuits" +
                  (s.tier == "Basic" ? " (Basic is legacy)" : ""),
              "use Standard, Premium or Local");
    }
    if (s.family != "MeteredData" && s.family != "UnlimitedData") {
      out.Add(s.loc, el, "sku.family '" + s.family + "' is unknown",
              "use MeteredData or UnlimitedData");
    }
    std::string want = s.tier + "_" + s.family;
    if (s.name != want) {
      out.Add(s.loc, el, "sku.name '" + s.name + "' does not match tier and family",
              "set sku.name: " + want);
    }
  }
}

}  // namespace lifeline::net::checks
