// Rule peering.asn-reserved: the peer ASN is not reserved by Azure or IANA.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(PeeringAsn, "peering.asn-reserved", Severity::kError, "PEERCFG, VPNBGP, ROUT",
            "peer ASN not reserved (8074, 8075, 12076, 65515-65520, 23456, 64496-64511, "
            "65535-65551)") {
  for (const auto& c : ctx.topo.circuits) {
    for (const auto& p : c.peerings) {
      std::string why;
      if (ReservedAsn(p.peer_asn, &why)) {
        out.Add(p.loc, "circuit " + c.name + " peering " + PeeringTypeName(p.type),
                "peer ASN " + std::to_string(p.peer_asn) + " is " + why,
                "use your own public ASN or a private one in 64512-65514 / 65521-65534");
      }
    }
  }
  for (const auto& s : ctx.topo.sites) {
    for (const auto& r : s.routers) {
      std::string why;
      if (ReservedAsn(r.asn, &why)) {
        out.Add(r.loc, "router " + r.name, "router ASN " + std::to_string(r.asn) + " is " + why,
                "use your own public ASN or a private one in 64512-65514 / 65521-65534");
      }
    }
  }
}

}  // namespace lifeline::net::checks
