// Rule vnetpeer.one-direction: both directions of a peering exist; with one the peering is
// only Initiated and carries no traffic.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(VnetPeerOneDirection, "vnetpeer.one-direction", Severity::kWarning, "VNPAPI, VNP",
            "both directions of a VNet peering are present (else it stays Initiated)") {
  for (const auto& p : ctx.topo.vnet_peerings) {
    if (!ctx.index.PeeringConnected(p)) {
      out.Add(p.loc, "vnet peering " + p.from + " -> " + p.to,
              "no peering " + p.to + " -> " + p.from +
                  ": the peering stays Initiated and "
                  "carries no traffic",
              "add the reverse peering (one entry per direction, as in the seeds' tables)");
    }
  }
}

}  // namespace lifeline::net::checks
