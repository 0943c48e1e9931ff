// Rule circuit.not-provisioned: peerings exist only on a Provisioned, Enabled circuit.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(CircuitNotProvisioned, "circuit.not-provisioned", Severity::kError, "WF, PEERCFG",
            "peerings only when the provider state is Provisioned and the circuit Enabled") {
  for (const auto& c : ctx.topo.circuits) {
    if (c.peerings.empty()) continue;
    // ExpressRoute Direct circuits have no provider provisioning state (WF).
    bool provider_ok = c.direct_port_gbps != 0 || c.service_provider_state == "Provisioned";
    if (!provider_ok || c.circuit_state != "Enabled") {
      out.Add(c.loc, "circuit " + c.name,
              "peerings are configured but the circuit is " + c.service_provider_state + "/" +
                  c.circuit_state,
              "wait until the provider reports Provisioned and the circuit is Enabled, then "
              "configure the peerings");
    }
  }
}

}  // namespace lifeline::net::checks
