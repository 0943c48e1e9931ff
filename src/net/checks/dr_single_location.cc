// Rule dr.single-location: circuits all at one peering location share its fate.
#include <set>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrSingleLocation, "dr.single-location", Severity::kAdvice, "ASR2, DRER",
            "private-peering circuits span at least two peering locations") {
  std::set<std::string> locations;
  for (const auto& c : ctx.topo.circuits)
    if (c.Private()) locations.insert(c.peering_location);
  if (locations.size() == 1) {
    const std::string& l = *locations.begin();
    Loc loc;
    for (const auto& c : ctx.topo.circuits)
      if (c.Private() && loc.line == 0) loc = c.loc;
    out.Add(loc, "peering location " + l,
            "every circuit is at peering location '" + l + "': its outage cuts all of them",
            "add a circuit at a second peering location (in the same geopolitical area, or "
            "Premium on both)");
  }
}

}  // namespace lifeline::net::checks
