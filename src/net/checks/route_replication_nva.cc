// Rule route.replication-via-nva: a 0.0.0.0/0 user route to an appliance also carries the
// replication traffic to storage through the appliance, unless the subnet has a storage
// service endpoint (the seeds' warning).
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(RouteReplicationNva, "route.replication-via-nva", Severity::kWarning,
            "ASR1, ASR2 (seeds)",
            "a 0.0.0.0/0 route to an appliance comes with a storage service endpoint") {
  for (const auto& rt : ctx.topo.route_tables) {
    bool default_to_nva = false;
    for (const auto& r : rt.routes)
      default_to_nva = default_to_nva || (r.prefix.IsDefault() && !r.prefix.v6() &&
                                          r.next_hop == NextHopType::kAppliance);
    if (!default_to_nva) continue;
    for (const auto& ref : rt.subnets) {
      const Vnet* v = ctx.index.FindVnet(ref.vnet);
      if (!v || ref.subnet == kGatewaySubnet) continue;
      bool endpoint = false;
      for (const auto& e : v->service_endpoints)
        endpoint = endpoint || (e.subnet == ref.subnet && e.service == "storage");
      if (!endpoint) {
        out.Add(ref.loc, "subnet " + ref.vnet + "/" + ref.subnet,
                "0.0.0.0/0 goes to an appliance: replication traffic to storage passes through "
                "it and may overload it",
                "add service_endpoints: [{subnet: " + ref.subnet +
                    ", service: storage}] so replication stays on the Azure backbone");
      }
    }
  }
}

}  // namespace lifeline::net::checks
