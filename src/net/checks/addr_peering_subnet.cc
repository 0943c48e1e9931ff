// Rule addr.peering-subnet: each circuit peering has a primary and a secondary /30 (IPv4) or
// /126 (IPv6) link subnet, distinct from each other.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrPeeringSubnet, "addr.peering-subnet", Severity::kError, "ROUT, PEERCFG",
            "peering link subnets are two /30s (or /126s), e.g. one /29 split, not overlapping") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      std::string el = "circuit " + c.name + " peering " + PeeringTypeName(p.type);
      if (!p.primary_prefix || !p.secondary_prefix) {
        out.Add(p.loc, el, "primary_prefix and secondary_prefix are both required",
                "give one /30 per link, e.g. the two halves of a /29 (192.168.100.128/30 and "
                "192.168.100.132/30)");
        continue;
      }
      for (const IpPrefix* q : {&*p.primary_prefix, &*p.secondary_prefix}) {
        int want = q->v6() ? 126 : 30;
        if (q->length() != want) {
          out.Add(p.loc, el, "link subnet " + q->ToString() + " must be a /" + std::to_string(want),
                  "use a /30 per link for IPv4 (a /126 for IPv6)");
        }
      }
      if (p.primary_prefix->Overlaps(*p.secondary_prefix)) {
        out.Add(p.loc, el,
                "primary " + p.primary_prefix->ToString() + " and secondary " +
                    p.secondary_prefix->ToString() + " overlap",
                "use two distinct /30s");
      }
    }
  }
}

}  // namespace lifeline::net::checks
