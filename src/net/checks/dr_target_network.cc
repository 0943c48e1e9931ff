// Rule dr.target-network: mapped networks are where the DR configuration says: sources in
// the source region, existing targets and drill networks in the target region.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrTargetNetwork, "dr.target-network", Severity::kError, "ASR2, ASR3",
            "DR targets exist in the target region or can be derived from the source") {
  if (!ctx.topo.dr) return;
  const DrConfig& dr = *ctx.topo.dr;
  for (const auto& m : dr.network_mapping) {
    const Vnet* s = ctx.index.FindVnet(m.source);
    if (s && s->region != dr.source_region) {
      out.Add(m.loc, "dr mapping " + m.source,
              "source vnet '" + m.source + "' is in region '" + s->region +
                  "', not in the "
                  "source region '" +
                  dr.source_region + "'",
              "map networks of the source region only");
    }
    for (const std::string* name : {&m.target, &m.drill}) {
      const Vnet* t = name->empty() ? nullptr : ctx.index.FindVnet(*name);
      if (t && t->region != dr.target_region) {
        out.Add(m.loc, "dr mapping " + m.source,
                "vnet '" + *name + "' is in region '" + t->region +
                    "', not in the target "
                    "region '" +
                    dr.target_region + "'",
                "map to a vnet of the target region, or to a new name that `net plan` derives");
      }
    }
  }
}

}  // namespace lifeline::net::checks
