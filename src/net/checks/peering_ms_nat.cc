// Rule peering.ms-nat-pool: traffic to Microsoft peering is SNATed to a public NAT pool.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringMsNat, "peering.ms-nat-pool", Severity::kWarning, "NAT, ROUT",
            "Microsoft peering has a NAT pool for the site's traffic") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      if (p.type == PeeringType::kMicrosoft && p.nat_pool.empty()) {
        out.Add(p.loc, "circuit " + c.name + " peering microsoft",
                "no NAT pool: the site's private addresses cannot reach Microsoft services",
                "SNAT the site's traffic to a registered public pool (nat_pool) advertised on "
                "this peering and not to the Internet");
      }
    }
  }
}

}  // namespace lifeline::net::checks
