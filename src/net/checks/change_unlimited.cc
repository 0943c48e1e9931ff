// Rule change.unlimited-to-metered: UnlimitedData never goes back to MeteredData.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_CHANGE_RULE(ChangeUnlimited, "change.unlimited-to-metered", Severity::kError, "CIRC, CKT",
                   "a circuit's family never changes from UnlimitedData to MeteredData") {
  for (const auto& c : ctx.topo.circuits) {
    const Circuit* o = ctx.old_index->FindCircuit(c.name);
    if (o && o->sku.family == "UnlimitedData" && c.sku.family == "MeteredData") {
      out.Add(c.sku.loc, "circuit " + c.name, "UnlimitedData cannot be changed to MeteredData",
              "keep UnlimitedData, or create a new metered circuit and migrate");
    }
  }
}

}  // namespace lifeline::net::checks
