// Failure simulation: the routes are computed with and without the failed elements; a flow's
// path is the circuit set (or VPN) each direction uses. The outage of an affected flow is
// detection + gateway convergence; detection comes from BFD (MSEE floor 300 ms) or the BGP
// hold time (the lower of the customer's and the MSEE's 180 s).
#include "net/simulate.h"

#include <algorithm>
#include <cstdio>

#include "net/limits.h"
#include "net/routes.h"

namespace lifeline::net {
namespace {

std::string Join(const std::vector<std::string>& xs, const char* sep) {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// One direction of a flow: the route chosen and the elements it crosses.
struct Leg {
  bool reachable = false;
  std::string origin;             // expressroute | vpn | peering | vnet_local | user
  std::vector<std::string> hops;  // circuits or vpn names
  std::string description;
};

Leg AzureLeg(RouteComputer& rc, const Vnet& v, const IpPrefix& dest) {
  Leg leg;
  VnetRouteTable t = rc.ForVnet(v);
  const RouteEntry* e = Lookup(t.entries, dest);
  if (!e || e->origin == RouteOrigin::kInternet) return leg;
  leg.reachable = e->next_hop_type != "None";
  leg.origin = RouteOriginName(e->origin);
  leg.hops = e->next_hops;
  leg.description = std::string(RouteOriginName(e->origin)) +
                    (e->next_hops.empty() ? "" : " " + Join(e->next_hops, "+"));
  return leg;
}

Leg SiteLeg(RouteComputer& rc, const Site& s, const Vnet& v, const IpPrefix& dest) {
  Leg leg;
  const RouteEntry* best = nullptr;
  std::string best_router;
  std::vector<RouterRouteTable> tables;
  tables.reserve(s.routers.size());
  for (const auto& r : s.routers) tables.push_back(rc.ForRouter(s, r));
  for (const auto& t : tables) {
    const RouteEntry* e = Lookup(t.entries, dest);
    if (!e) continue;
    bool better =
        !best || e->local_pref > best->local_pref ||
        (e->local_pref == best->local_pref &&
         (e->as_path_length < best->as_path_length ||
          (e->as_path_length == best->as_path_length && e->origin == RouteOrigin::kExpressRoute &&
           best->origin != RouteOrigin::kExpressRoute)));
    if (better) {
      best = e;
      best_router = t.router;
    }
  }
  if (!best) return leg;
  // With a shared (retained) address space the prefix may lead to another VNet.
  leg.reachable = best->lands_in.empty() || best->lands_in == v.name;
  leg.origin = RouteOriginName(best->origin);
  leg.hops = best->next_hops;
  leg.description = best_router + " " + RouteOriginName(best->origin) + " " +
                    Join(best->next_hops, "+") +
                    (leg.reachable ? "" : " (lands in vnet " + best->lands_in + ")");
  return leg;
}

// Capacity of the path through `hops` (circuits: bandwidth, x2 burst with both links up,
// capped by the gateway's throughput); 0 if unknown.
int64_t Capacity(const TopologyIndex& idx, const FailureSet& f, const Leg& leg, const Vnet& v,
                 bool* burst) {
  *burst = false;
  if (leg.origin != "expressroute") return 0;
  int64_t sum = 0;
  for (const auto& h : leg.hops) {
    const Circuit* c = idx.FindCircuit(h);
    const CircuitPeering* p = c ? c->Private() : nullptr;
    if (!p) continue;
    int links = f.LinksUp(idx, *c, *p);
    sum += c->bandwidth_mbps * (links == 2 ? 2 : links);
    *burst = *burst || links == 2;
  }
  const Vnet* gv = idx.GatewayVnet(v);
  const Gateway* g = gv ? idx.GatewayOfType(*gv, GatewayType::kExpressRoute) : nullptr;
  int64_t gw = g ? ErGatewayMbps(*g) : 0;
  if (gw > 0 && gw < sum) {
    *burst = false;
    return gw;
  }
  return sum;
}

bool Touches(const TopologyIndex& idx, const std::vector<Element>& failed, const Leg& leg,
             const Vnet& v, const std::string& site, double* fraction) {
  *fraction = 0;
  for (const Element& e : failed) {
    for (const auto& h : leg.hops) {
      const Circuit* c = idx.FindCircuit(h);
      if (c) {
        const CircuitPeering* p = c->Private();
        if (e.kind == ElementKind::kCircuit && e.name == c->name) *fraction = 1;
        if (e.kind == ElementKind::kLocation && e.name == c->peering_location) *fraction = 1;
        if (e.kind == ElementKind::kLink && e.name.rfind(c->name + "/", 0) == 0) {
          *fraction = std::max(*fraction, 0.5 / static_cast<double>(leg.hops.size()));
        }
        if (p && e.kind == ElementKind::kRouter &&
            (e.name == p->primary_router || e.name == p->secondary_router)) {
          bool both = p->primary_router == p->secondary_router;
          *fraction = std::max(*fraction, both ? 1.0 : 0.5 / static_cast<double>(leg.hops.size()));
        }
      }
      for (const auto& vpn : idx.topology().vpn_connections) {
        if (vpn.name != h) continue;
        if ((e.kind == ElementKind::kVpn && e.name == vpn.name) ||
            (e.kind == ElementKind::kRouter && e.name == vpn.router) ||
            (e.kind == ElementKind::kGateway && e.name == vpn.gateway.ToString())) {
          *fraction = 1;
        }
      }
    }
    const Vnet* gv = idx.GatewayVnet(v);
    if (e.kind == ElementKind::kGateway && gv && e.name.rfind(gv->name + "/", 0) == 0 &&
        leg.origin == "expressroute") {
      const Gateway* g = idx.GatewayOfType(*gv, GatewayType::kExpressRoute);
      if (g && e.name == gv->name + "/" + g->name) *fraction = 1;
    }
    if (e.kind == ElementKind::kRegion && (e.name == v.region || (gv && e.name == gv->region))) {
      *fraction = 1;
    }
    (void)site;
  }
  return *fraction > 0;
}

// Detection of the failure for a flow that was on `before`: the slowest detection among the
// failed circuit peerings it used (BFD or hold timer); VPN: the configured assumption.
Detection FlowDetection(const TopologyIndex& idx, const Leg& before, const SimulateOptions& o) {
  Detection d;
  for (const auto& h : before.hops) {
    const Circuit* c = idx.FindCircuit(h);
    if (c && c->Private()) {
      Detection x = LinkDetection(*c->Private());
      if (x.seconds > d.seconds) d = x;
    } else {
      d.seconds = std::max(d.seconds, o.vpn_detection_s);
      d.how = "VPN BGP hold " + Fmt(o.vpn_detection_s) + " s, assumed";
    }
  }
  return d;
}

}  // namespace

Detection LinkDetection(const CircuitPeering& p) {
  Detection d;
  if (p.bfd.enabled) {
    // The slower side sets the rate and the MSEE never goes below 300 ms (BFD).
    int interval = std::max(p.bfd.interval_ms, kMseeBfdIntervalMs);
    d.bfd = true;
    d.seconds = interval * p.bfd.multiplier / 1000.0;
    d.how =
        "BFD " + std::to_string(interval) + " ms x " + std::to_string(p.bfd.multiplier) +
        (p.bfd.interval_ms < kMseeBfdIntervalMs ? ", raised to the MSEE minimum of 300 ms" : "");
  } else {
    // BGP uses the lower hold time of the two sides; the MSEE's is 180 s (FAQ, BFD).
    int hold = std::min(p.bgp.hold_s, kMseeHoldS);
    d.seconds = hold;
    d.how = "BGP hold timer " + std::to_string(hold) + " s, BFD off";
  }
  return d;
}

SimulationResult Simulate(const TopologyIndex& idx, const std::vector<Element>& failed,
                          const SimulateOptions& opts) {
  SimulationResult res;
  res.failed = failed;
  FailureSet none, fail(failed);
  RouteComputer before_rc(idx, none), after_rc(idx, fail);
  const Topology& t = idx.topology();
  for (const auto& s : t.sites) {
    if (s.prefixes.empty()) continue;
    for (const auto& v : t.vnets) {
      if (v.address_space.empty() || !idx.GatewayVnet(v)) continue;
      FlowResult f;
      f.flow = s.name + " <-> " + v.name;
      f.kind = "site-vnet";
      const IpPrefix& site_addr = s.prefixes.front();
      const IpPrefix& vnet_addr = v.address_space.front();
      Leg out_b = AzureLeg(before_rc, v, site_addr), in_b = SiteLeg(before_rc, s, v, vnet_addr);
      Leg out_a = AzureLeg(after_rc, v, site_addr), in_a = SiteLeg(after_rc, s, v, vnet_addr);
      f.reachable_before = out_b.reachable && in_b.reachable;
      f.reachable_after = out_a.reachable && in_a.reachable;
      if (!f.reachable_before && !f.reachable_after) continue;  // not a flow of this topology
      auto path = [](const Leg& o, const Leg& i) {
        if (!o.reachable && o.description.empty() && !i.reachable && i.description.empty()) {
          return std::string("unreachable");
        }
        return "to site: " + (o.description.empty() ? "none" : o.description) +
               "; to vnet: " + (i.description.empty() ? "none" : i.description);
      };
      f.path_before = path(out_b, in_b);
      f.path_after = path(out_a, in_a);
      if (!f.reachable_before) {
        f.affected = true;
        f.note = "reachable only after the failure (shared address space now routed here)";
        bool burst = false;
        f.capacity_after_mbps = Capacity(idx, fail, out_a, v, &burst);
        res.flows.push_back(std::move(f));
        continue;
      }
      double fr_out = 0, fr_in = 0;
      bool t_out = Touches(idx, failed, out_b, v, s.name, &fr_out);
      bool t_in = Touches(idx, failed, in_b, v, s.name, &fr_in);
      f.affected = t_out || t_in || !f.reachable_after;
      f.affected_fraction = f.reachable_after ? std::max(fr_out, fr_in) : 1;
      bool burst_b = false, burst_a = false;
      f.capacity_before_mbps = Capacity(idx, none, out_b, v, &burst_b);
      f.capacity_after_mbps = f.reachable_after ? Capacity(idx, fail, out_a, v, &burst_a) : 0;
      if (f.affected && f.reachable_after) {
        Detection d = FlowDetection(idx, t_out ? out_b : in_b, opts);
        f.detection_s = d.seconds;
        f.detection_how = d.how;
        f.convergence_s = opts.gateway_convergence_s;
        f.outage_s = d.seconds + opts.gateway_convergence_s;
        res.worst_outage_s = std::max(res.worst_outage_s, *f.outage_s);
        if (out_b.hops != out_a.hops || in_b.hops != in_a.hops) {
          f.note = "rerouted";
        } else {
          f.note = "same circuit(s) on the remaining link; " + Fmt(f.affected_fraction * 100) +
                   "% of sessions moved";
        }
        if (out_a.origin != in_a.origin || out_a.hops != in_a.hops) {
          f.note += "; asymmetric after failure";
        }
      } else if (!f.reachable_after) {
        f.note = "no remaining path: outage lasts until repair or failover (see net plan)";
      }
      if (burst_b && !burst_a && f.reachable_after && f.capacity_after_mbps > 0) {
        f.note += std::string(f.note.empty() ? "" : "; ") + "no 2x burst: one link left";
      }
      res.flows.push_back(std::move(f));
    }
  }
  // VNet <-> VNet over connected peerings.
  for (const auto& p : t.vnet_peerings) {
    if (p.from >= p.to || !idx.PeeringConnected(p)) continue;
    const Vnet* a = idx.FindVnet(p.from);
    const Vnet* b = idx.FindVnet(p.to);
    if (!a || !b) continue;
    FlowResult f;
    f.flow = a->name + " <-> " + b->name;
    f.kind = "vnet-vnet";
    f.reachable_before = true;
    f.path_before = "peering";
    f.reachable_after = fail.RegionUp(a->region) && fail.RegionUp(b->region);
    f.path_after = f.reachable_after ? "peering" : "unreachable";
    f.affected = !f.reachable_after;
    f.affected_fraction = f.affected ? 1 : 0;
    if (!f.reachable_after) f.note = "a region is down";
    res.flows.push_back(std::move(f));
  }
  for (const auto& f : res.flows) {
    if (f.affected) ++res.affected;
    if (f.reachable_before && !f.reachable_after) ++res.unreachable;
  }
  return res;
}

std::vector<SimulationResult> SimulateAllSingleFailures(const TopologyIndex& idx,
                                                        const SimulateOptions& opts) {
  std::vector<SimulationResult> out;
  for (const Element& e : AllElements(idx.topology())) out.push_back(Simulate(idx, {e}, opts));
  std::stable_sort(out.begin(), out.end(),
                   [](const SimulationResult& a, const SimulationResult& b) {
                     if (a.unreachable != b.unreachable) return a.unreachable > b.unreachable;
                     if (a.worst_outage_s != b.worst_outage_s)
                       return a.worst_outage_s > b.worst_outage_s;
                     return a.affected > b.affected;
                   });
  return out;
}

}  // namespace lifeline::net
