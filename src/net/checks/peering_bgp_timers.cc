// Rule peering.bgp-timers: keepalive >= 3 s, hold >= 10 s, keepalive <= hold / 3.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringBgpTimers, "peering.bgp-timers", Severity::kError, "BFD",
            "BGP keepalive >= 3 s, hold >= 10 s, keepalive <= hold/3") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      const auto& b = p.bgp;
      std::string el = "circuit " + c.name + " peering " + PeeringTypeName(p.type);
      std::string t = std::to_string(b.keepalive_s) + "/" + std::to_string(b.hold_s) + " s";
      if (b.keepalive_s < kMinKeepaliveS || b.hold_s < kMinHoldS) {
        out.Add(p.loc, el, "BGP timers " + t + " are below the minimum 3/10 s",
                "use keepalive >= 3 s and hold >= 10 s; prefer BFD for fast detection");
      } else if (b.keepalive_s * 3 > b.hold_s) {
        out.Add(p.loc, el,
                "keepalive " + std::to_string(b.keepalive_s) + " s is more than a third of hold " +
                    std::to_string(b.hold_s) + " s",
                "set keepalive to at most hold/3");
      }
    }
  }
}

}  // namespace lifeline::net::checks
