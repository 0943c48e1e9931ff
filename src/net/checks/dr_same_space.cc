// Rule dr.same-space-one-circuit: with retained addresses and no circuit free of the source,
// source and target cannot be connected at once: the plan must disconnect the source first,
// which may fail while the primary region is down.
#include "net/checks/dr_util.h"
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrSameSpace, "dr.same-space-one-circuit", Severity::kWarning, "ASR2",
            "retained IPs with a single circuit: disconnect source before connecting target") {
  if (!ctx.topo.dr || ctx.topo.dr->ip_strategy != "retain") return;
  const DrConfig& dr = *ctx.topo.dr;
  std::set<std::string> source = CircuitsServingRegion(ctx.index, dr.source_region);
  if (source.empty()) return;
  for (const auto& c : ctx.topo.circuits)
    if (!source.count(c.name) && c.Private()) return;  // a spare circuit can take the target
  out.Add(dr.loc, "dr",
          "ip_strategy retain with only circuit(s) " + Join({source.begin(), source.end()}) +
              ": the target VNets (same address space) cannot be connected while the source "
              "ones are; the recovery plan must disconnect the source first, and that step may "
              "fail while the primary region is down",
          "use a different address space in the target (ip_strategy: new), or add a second "
          "circuit at another peering location for the target");
}

}  // namespace lifeline::net::checks
