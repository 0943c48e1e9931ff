// Rule addr.subnet-overlap: the subnets of one VNet do not overlap.
#include <algorithm>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrSubnetOverlap, "addr.subnet-overlap", Severity::kError, "NETWORK_MODEL §2",
            "the subnets of a VNet do not overlap each other") {
  for (const auto& v : ctx.topo.vnets) {
    std::vector<const Subnet*> s;
    for (const auto& x : v.subnets) s.push_back(&x);
    // Sorted by prefix, an overlap always shows between a subnet and an earlier one that
    // contains it; keep the widest reach seen so far (the "open" prefix).
    std::sort(s.begin(), s.end(), [](auto* a, auto* b) { return a->prefix < b->prefix; });
    const Subnet* open = nullptr;
    for (const Subnet* x : s) {
      if (open && open->prefix.Contains(x->prefix)) {
        out.Add(x->loc, "subnet " + v.name + "/" + x->name,
                "prefix " + x->prefix.ToString() + " overlaps subnet '" + open->name + "' (" +
                    open->prefix.ToString() + ")",
                "give each subnet a disjoint prefix");
        continue;
      }
      open = x;
    }
  }
}

}  // namespace lifeline::net::checks
