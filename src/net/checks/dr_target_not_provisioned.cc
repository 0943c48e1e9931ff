// Rule dr.target-not-provisioned: failover does not create gateways, connections, peerings
// or route tables in the target; lists what is missing so it is pre-provisioned or added as
// plan steps whose time counts in the RTO.
#include "net/checks/dr_util.h"
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(DrTargetNotProvisioned, "dr.target-not-provisioned", Severity::kAdvice, "ASR2",
            "gateways, connections, peerings and route tables exist in the target region") {
  if (!ctx.topo.dr) return;
  const DrConfig& dr = *ctx.topo.dr;
  std::vector<std::string> missing;
  bool er_gateway = false, connection = false;
  for (const auto& v : ctx.topo.vnets) {
    if (v.region != dr.target_region) continue;
    if (HasErGateway(v)) {
      er_gateway = true;
      connection = connection || !ctx.index.ConnectionsOfVnet(v.name).empty();
    }
  }
  if (!er_gateway) missing.push_back("an ExpressRoute gateway");
  if (!connection) missing.push_back("a circuit connection");
  std::map<std::string, std::string> target_of;
  for (const auto& m : dr.network_mapping) target_of[m.source] = m.target;
  int peerings = 0, tables = 0;
  for (const auto& p : ctx.topo.vnet_peerings) {
    auto a = target_of.find(p.from), b = target_of.find(p.to);
    if (a != target_of.end() && b != target_of.end() &&
        !ctx.index.FindPeering(a->second, b->second)) {
      ++peerings;
    }
  }
  for (const auto& rt : ctx.topo.route_tables) {
    bool source = false, target = false;
    for (const auto& ref : rt.subnets) {
      auto it = target_of.find(ref.vnet);
      if (it == target_of.end()) continue;
      source = true;
      target = target || ctx.index.RouteTableOf(it->second, ref.subnet) != nullptr;
    }
    if (source && !target) ++tables;
  }
  if (peerings) missing.push_back(std::to_string(peerings) + " vnet peering(s)");
  if (tables) missing.push_back(std::to_string(tables) + " route table association(s)");
  if (!missing.empty()) {
    out.Add(dr.loc, "dr",
            "not in target region '" + dr.target_region + "': " + Join(missing) +
                "; failover does not create them",
            "pre-provision them, or run them as recovery plan steps (`lifeline net plan` lists "
            "them with their time in the RTO)");
  }
}

}  // namespace lifeline::net::checks
