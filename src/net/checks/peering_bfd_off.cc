// Rule peering.bfd-off: without BFD a failure is detected only when the hold timer expires.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringBfdOff, "peering.bfd-off", Severity::kWarning, "BFD, RESET",
            "BFD is enabled (else failure detection takes up to the hold time)") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      if (p.bfd.enabled) continue;
      int hold = std::min(p.bgp.hold_s, kMseeHoldS);
      out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
              "BFD is off: a link failure is noticed only after the BGP hold time (" +
                  std::to_string(hold) + " s) instead of about 0.9 s",
              "enable BFD on both CE routers (interval 300 ms, multiplier 3); reset the "
              "peering on circuits older than 2018-08-01");
    }
  }
}

}  // namespace lifeline::net::checks
