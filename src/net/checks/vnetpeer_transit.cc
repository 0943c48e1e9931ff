// Rule vnetpeer.transit: peering is not transitive. Two spokes of one hub reach each other
// only through an appliance in the hub, with user routes on the spokes and forwarded
// traffic allowed.
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {
namespace {

// True if `v` has, on every subnet, a route to `dest` through an appliance.
bool RoutesViaAppliance(const CheckContext& ctx, const Vnet& v, const IpPrefix& dest) {
  if (v.subnets.empty()) return false;
  for (const auto& s : v.subnets) {
    const RouteTable* rt = ctx.index.RouteTableOf(v.name, s.name);
    bool ok = false;
    if (rt) {
      for (const auto& r : rt->routes)
        ok = ok || (r.next_hop == NextHopType::kAppliance && r.prefix.Contains(dest));
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

LL_NET_RULE(VnetPeerTransit, "vnetpeer.transit", Severity::kWarning, "VNP, ASR2",
            "spoke-to-spoke traffic through a hub needs an appliance and user routes") {
  for (const auto& hub : ctx.topo.vnets) {
    std::vector<const Vnet*> spokes;
    for (const VnetPeering* p : ctx.index.PeeringsFrom(hub.name)) {
      const Vnet* s = ctx.index.FindVnet(p->to);
      if (s && ctx.index.PeeringConnected(*p)) spokes.push_back(s);
    }
    for (size_t i = 0; i < spokes.size(); ++i) {
      for (size_t j = i + 1; j < spokes.size(); ++j) {
        const Vnet* a = spokes[i];
        const Vnet* b = spokes[j];
        if (ctx.index.FindPeering(a->name, b->name)) continue;  // direct peering exists
        if (a->address_space.empty() || b->address_space.empty()) continue;
        bool routed = !hub.appliances.empty() &&
                      RoutesViaAppliance(ctx, *a, b->address_space.front()) &&
                      RoutesViaAppliance(ctx, *b, a->address_space.front());
        const VnetPeering* ha = ctx.index.FindPeering(a->name, hub.name);
        const VnetPeering* hb = ctx.index.FindPeering(b->name, hub.name);
        bool forwarded = ha && hb && ha->allow_forwarded_traffic && hb->allow_forwarded_traffic;
        if (!routed || !forwarded) {
          out.Add(b->loc, "vnet " + b->name,
                  "vnets '" + a->name + "' and '" + b->name + "' are both peered with '" +
                      hub.name + "' but peering is not transitive: they cannot reach each other" +
                      (routed ? " (forwarded traffic is not allowed on the spoke peerings)" : ""),
                  "peer them directly, or put an appliance in '" + hub.name +
                      "' with user routes on both spokes and allow_forwarded_traffic");
        }
      }
    }
  }
}

}  // namespace lifeline::net::checks
