// Rule circuit.bandwidth: bandwidth is one the circuit kind offers.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitBandwidth, "circuit.bandwidth", Severity::kError, "CIRC, FAQ, DIRECT",
            "bandwidth allowed for provider circuits or for the Direct port") {
  for (const auto& c : ctx.topo.circuits) {
    std::string allowed;
    if (!CircuitBandwidthAllowed(c, &allowed)) {
      out.Add(c.loc, "circuit " + c.name, std::to_string(c.bandwidth_mbps) + " Mbps is not offered",
              "choose one of " + allowed);
    }
  }
}

}  // namespace lifeline::net::checks
