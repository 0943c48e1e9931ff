// Rule route.appliance-missing: an appliance next hop is a declared appliance inside a subnet
// of some VNet.
#include <unordered_map>

#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(RouteAppliance, "route.appliance-missing", Severity::kError, "UDR",
            "an appliance next hop is an existing appliance inside a subnet") {
  std::unordered_map<std::string, const Vnet*> appliance_vnet;  // ip -> vnet
  for (const auto& v : ctx.topo.vnets)
    for (const auto& a : v.appliances) appliance_vnet.emplace(a.ip.AddressString(), &v);
  for (const auto& rt : ctx.topo.route_tables) {
    for (const auto& r : rt.routes) {
      if (r.next_hop != NextHopType::kAppliance || !r.next_hop_ip) continue;
      std::string ip = r.next_hop_ip->AddressString();
      auto it = appliance_vnet.find(ip);
      std::string el = "route table " + rt.name + " route " + r.prefix.ToString();
      if (it == appliance_vnet.end()) {
        out.Add(r.loc, el, "next hop " + ip + " is not an appliance of any vnet",
                "declare the appliance under its vnet's appliances, or fix next_hop_ip");
        continue;
      }
      bool in_subnet = false;
      for (const auto& s : it->second->subnets)
        in_subnet = in_subnet || s.prefix.Contains(*r.next_hop_ip);
      if (!in_subnet) {
        out.Add(r.loc, el,
                "appliance " + ip + " is in no subnet of vnet '" + it->second->name + "'",
                "place the appliance in a subnet (not GatewaySubnet)");
      }
    }
  }
}

}  // namespace lifeline::net::checks
