// Rule dr.replication-path: on-premises replication goes over Microsoft peering; private
// peering works only with private endpoints for the vault.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrReplicationPath, "dr.replication-path", Severity::kWarning, "ASR1",
            "on-premises replication uses Microsoft peering (private only with private "
            "endpoints)") {
  if (!ctx.topo.dr || ctx.topo.dr->replication_site.empty()) return;
  const DrConfig& dr = *ctx.topo.dr;
  if (dr.replication_peering == "private") {
    out.Add(dr.replication_loc, "dr replication_path",
            "replication over private peering reaches the vault only through private endpoints",
            "use Microsoft peering, or enable private endpoints for the vault");
    return;
  }
  bool has_ms = false;
  for (const auto& c : ctx.topo.circuits) {
    const Site* s = ctx.index.SiteOfCircuit(c);
    if (s && s->name == dr.replication_site && c.Microsoft()) has_ms = true;
  }
  if (!has_ms) {
    out.Add(dr.replication_loc, "dr replication_path",
            "site '" + dr.replication_site +
                "' has no circuit with Microsoft peering: "
                "replication would take the Internet",
            "configure Microsoft peering (with a route filter and NAT pool) on a circuit of "
            "this site");
  }
}

}  // namespace lifeline::net::checks
