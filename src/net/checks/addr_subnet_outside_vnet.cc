// Rule addr.subnet-outside-vnet: every subnet lies inside one of its VNet's address spaces.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrSubnetOutsideVnet, "addr.subnet-outside-vnet", Severity::kError, "NETWORK_MODEL §2",
            "every subnet prefix lies inside an address space of its VNet") {
  for (const auto& v : ctx.topo.vnets) {
    for (const auto& s : v.subnets) {
      bool inside = false;
      for (const auto& a : v.address_space) inside = inside || a.Contains(s.prefix);
      if (!inside) {
        out.Add(s.loc, "subnet " + v.name + "/" + s.name,
                "prefix " + s.prefix.ToString() + " is outside the address space of vnet '" +
                    v.name + "'",
                "choose a subnet prefix inside the VNet's address_space, or add an address space "
                "that covers it");
      }
    }
  }
}

}  // namespace lifeline::net::checks
