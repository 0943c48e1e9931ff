// Rule dr.target-premium: a target region outside the circuits' geopolitical area needs
// Premium on the circuit that will reach it.
#include "net/checks/dr_util.h"
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrTargetPremium, "dr.target-premium", Severity::kError, "ASR1, ASR2",
            "a target region outside the circuit's area needs Premium") {
  if (!ctx.topo.dr) return;
  const DrConfig& dr = *ctx.topo.dr;
  std::string geo = ctx.index.RegionGeo(dr.target_region);
  std::vector<std::string> blocked;
  bool reachable = false;
  for (const auto& name : CircuitsForTarget(ctx.index, dr)) {
    const Circuit* c = ctx.index.FindCircuit(name);
    if (!c) continue;
    if (IsPremium(*c) || ctx.index.CircuitGeo(*c) == geo) {
      reachable = true;
    } else {
      blocked.push_back(name);
    }
  }
  if (!reachable && !blocked.empty()) {
    out.Add(dr.loc, "dr",
            "target region '" + dr.target_region + "' (" + geo +
                ") is outside the area of "
                "circuit(s) " +
                Join(blocked) + ", which are not Premium",
            "enable Premium on the circuit used after failover, or add a circuit in " + geo);
  }
}

}  // namespace lifeline::net::checks
