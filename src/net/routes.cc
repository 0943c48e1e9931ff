// Route selection. Azure side (UDR, COEX, DRER, OPT): per identical prefix, user > BGP >
// system, except that VNet-local and peering system routes beat BGP even when BGP is more
// specific; among BGP, ExpressRoute beats VPN, then connection weight, then AS-path length,
// then ECMP over at most 4 circuits. Site side (OPT, COEX): local preference, then AS path,
// then ExpressRoute over VPN.
#include "net/routes.h"

#include <algorithm>
#include <map>

#include "net/limits.h"

namespace lifeline::net {
namespace {

std::string Join(const std::vector<std::string>& xs) {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : ",") + x;
  return s;
}

// Ranks BGP candidates for one prefix on the Azure side; returns true if a beats b.
bool AzureBgpBetter(const RouteEntry& a, const RouteEntry& b) {
  if (a.origin != b.origin) return a.origin == RouteOrigin::kExpressRoute;
  if (a.weight != b.weight) return a.weight > b.weight;
  return a.as_path_length < b.as_path_length;
}

bool SameRank(const RouteEntry& a, const RouteEntry& b) {
  return a.origin == b.origin && a.weight == b.weight && a.as_path_length == b.as_path_length;
}

// Selects among the candidates of one prefix (sorted best first): merges up to 4 equal
// ExpressRoute paths into one ECMP entry, marks the rest inactive with a reason.
void SelectBgp(std::vector<RouteEntry>& cands, std::vector<RouteEntry>* out) {
  std::stable_sort(cands.begin(), cands.end(), AzureBgpBetter);
  RouteEntry best = cands[0];
  size_t i = 1;
  int ecmp_dropped = 0;
  for (; i < cands.size() && SameRank(cands[i], cands[0]); ++i) {
    if (cands[0].origin == RouteOrigin::kExpressRoute &&
        static_cast<int>(best.next_hops.size()) < kMaxEcmpCircuits) {
      best.next_hops.push_back(cands[i].next_hops[0]);
    } else {
      ++ecmp_dropped;
      RouteEntry lost = cands[i];
      lost.active = false;
      lost.note = "equal path beyond the ECMP limit of 4 circuits";
      out->push_back(lost);
    }
  }
  if (best.next_hops.size() > 1) {
    best.note = "ECMP over " + std::to_string(best.next_hops.size()) + " circuits (per flow)";
  } else if (cands.size() > 1) {
    const RouteEntry& second = cands[1];
    best.note = second.origin != best.origin ? "ExpressRoute preferred over VPN"
                : second.weight != best.weight
                    ? "higher connection weight (" + std::to_string(best.weight) + ")"
                    : "shorter AS path (" + std::to_string(best.as_path_length) + ")";
  }
  for (; i < cands.size(); ++i) {
    RouteEntry lost = cands[i];
    lost.active = false;
    lost.note = lost.origin != best.origin ? "VPN backup: ExpressRoute preferred"
                : lost.weight != best.weight
                    ? "lower connection weight (" + std::to_string(lost.weight) + ")"
                    : "longer AS path (" + std::to_string(lost.as_path_length) + ")";
    out->push_back(lost);
  }
  (void)ecmp_dropped;
  out->push_back(best);
}

void SortEntries(std::vector<RouteEntry>* e) {
  std::stable_sort(e->begin(), e->end(), [](const RouteEntry& a, const RouteEntry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.active > b.active;
  });
}

}  // namespace

const char* RouteOriginName(RouteOrigin o) {
  switch (o) {
    case RouteOrigin::kVnetLocal:
      return "vnet_local";
    case RouteOrigin::kPeering:
      return "peering";
    case RouteOrigin::kInternet:
      return "internet";
    case RouteOrigin::kUser:
      return "user";
    case RouteOrigin::kExpressRoute:
      return "expressroute";
    case RouteOrigin::kVpn:
      return "vpn";
    case RouteOrigin::kAzure:
      return "azure";
  }
  return "user";
}

const char* RouteSourceName(RouteOrigin o) {
  switch (o) {
    case RouteOrigin::kUser:
      return "user";
    case RouteOrigin::kExpressRoute:
    case RouteOrigin::kVpn:
    case RouteOrigin::kAzure:
      return "bgp";
    default:
      return "system";
  }
}

const std::vector<RouteEntry>& RouteComputer::GatewayBgp(const Vnet& g) {
  auto it = bgp_cache_.find(g.name);
  if (it != bgp_cache_.end()) return *it->second;
  std::map<IpPrefix, std::vector<RouteEntry>> by_prefix;
  if (failures_.RegionUp(g.region)) {
    for (const Connection* conn : idx_.ConnectionsOfVnet(g.name)) {
      if (!failures_.GatewayUp(idx_, conn->gateway)) continue;
      const Circuit* c = idx_.FindCircuit(conn->circuit);
      const CircuitPeering* p = c ? c->Private() : nullptr;
      if (!p || !failures_.PeeringUp(idx_, *c, *p)) continue;
      const Site* site = idx_.SiteOfCircuit(*c);
      const std::vector<IpPrefix>& ann = !p->advertise.empty() ? p->advertise
                                         : site                ? site->prefixes
                                                               : p->advertise;
      for (const auto& prefix : ann) {
        RouteEntry e;
        e.prefix = prefix;
        e.origin = RouteOrigin::kExpressRoute;
        e.next_hop_type = "VirtualNetworkGateway";
        e.next_hops = {c->name};
        e.weight = conn->weight;
        e.as_path_length = 1 + p->as_path_prepend;
        by_prefix[prefix].push_back(std::move(e));
      }
    }
    for (const auto& vpn : idx_.topology().vpn_connections) {
      if (vpn.gateway.vnet != g.name || !failures_.VpnUp(idx_, vpn)) continue;
      const Site* site = idx_.FindSite(vpn.site);
      if (!site) continue;
      for (const auto& prefix : site->prefixes) {
        RouteEntry e;
        e.prefix = prefix;
        e.origin = RouteOrigin::kVpn;
        e.next_hop_type = "VirtualNetworkGateway";
        e.next_hops = {vpn.name};
        e.as_path_length = vpn.bgp ? 1 : 0;
        by_prefix[prefix].push_back(std::move(e));
      }
    }
  }
  auto table = std::make_unique<std::vector<RouteEntry>>();
  for (auto& [prefix, cands] : by_prefix) SelectBgp(cands, table.get());
  SortEntries(table.get());
  auto& ref = *table;
  bgp_cache_.emplace(g.name, std::move(table));
  return ref;
}

VnetRouteTable RouteComputer::ForVnet(const Vnet& v, const std::string& subnet) {
  VnetRouteTable t;
  ForVnet(v, subnet, &t);
  return t;
}

void RouteComputer::ForVnet(const Vnet& v, const std::string& subnet, VnetRouteTable* t) {
  t->vnet = v.name;
  t->subnet = subnet;
  std::vector<RouteEntry>& e = t->entries;
  // Entries are assigned over e[0..n) and the tail is cut at the end: copying a shared BGP
  // route into an existing slot reuses its strings' storage, so a caller that refills one
  // table for thousands of VNets does not allocate per route.
  size_t n = 0;
  auto slot = [&]() -> RouteEntry& {
    if (n == e.size()) e.emplace_back();
    return e[n++];
  };
  auto finish = [&] { e.erase(e.begin() + static_cast<std::ptrdiff_t>(n), e.end()); };
  if (!failures_.RegionUp(v.region)) return finish();  // the VNet is gone with its region
  std::vector<RouteEntry>& local = local_;  // system and user routes: a handful per table
  local.clear();
  protected_.clear();  // system routes BGP cannot override
  for (const auto& a : v.address_space) {
    RouteEntry& r = local.emplace_back();
    r.prefix = a;
    r.origin = RouteOrigin::kVnetLocal;
    r.next_hop_type = "VnetLocal";
    protected_.push_back(a);
  }
  for (const VnetPeering* p : idx_.PeeringsFrom(v.name)) {
    const Vnet* peer = idx_.FindVnet(p->to);
    if (!peer || !p->allow_vnet_access || !idx_.PeeringConnected(*p)) continue;
    if (!failures_.RegionUp(peer->region)) continue;
    for (const auto& a : peer->address_space) {
      RouteEntry& r = local.emplace_back();
      r.prefix = a;
      r.origin = RouteOrigin::kPeering;
      r.next_hop_type = "VNetPeering";
      r.next_hops = {peer->name};
      protected_.push_back(a);
    }
  }
  {
    static const IpPrefix kDefault = *IpPrefix::Parse("0.0.0.0/0");
    RouteEntry& internet = local.emplace_back();
    internet.prefix = kDefault;
    internet.origin = RouteOrigin::kInternet;
    internet.next_hop_type = "Internet";
  }

  const RouteTable* rt = subnet.empty() ? nullptr : idx_.RouteTableOf(v.name, subnet);
  bool propagate = !rt || rt->propagate_gateway_routes;
  const Vnet* gw = idx_.GatewayVnet(v);
  // User routes by prefix; the last route of a prefix wins, as a map assignment would.
  std::vector<const Route*> user;
  if (rt) {
    for (const auto& r : rt->routes) user.push_back(&r);
    std::stable_sort(user.begin(), user.end(),
                     [](const Route* a, const Route* b) { return a->prefix < b->prefix; });
    size_t kept = 0;
    for (size_t i = 0; i < user.size(); ++i) {
      if (i + 1 < user.size() && user[i + 1]->prefix == user[i]->prefix) continue;
      user[kept++] = user[i];
    }
    user.resize(kept);
  }
  for (const Route* r : user) {
    RouteEntry& u = local.emplace_back();
    u.prefix = r->prefix;
    u.origin = RouteOrigin::kUser;
    u.via = rt->name;
    switch (r->next_hop) {
      case NextHopType::kAppliance:
        u.next_hop_type = "VirtualAppliance";
        u.next_hops = {r->next_hop_ip->AddressString()};
        break;
      case NextHopType::kGateway:
        u.next_hop_type = "VirtualNetworkGateway";
        break;
      case NextHopType::kVnetLocal:
        u.next_hop_type = "VnetLocal";
        break;
      case NextHopType::kInternet:
        u.next_hop_type = "Internet";
        break;
      case NextHopType::kNone:
        u.next_hop_type = "None";
        break;
    }
  }
  SortEntries(&local);
  // std::merge's rule: the BGP route goes first only if it sorts strictly before.
  auto bgp_first = [](const IpPrefix& prefix, bool active, const RouteEntry& l) {
    if (prefix != l.prefix) return prefix < l.prefix;
    return active > l.active;
  };
  // Merge the local routes with the gateway's shared BGP routes (both sorted by prefix,
  // active first), ties to the local route: the BGP part may be thousands of routes shared
  // by every VNet behind one gateway, so it is copied once, straight into its slot.
  static const std::vector<RouteEntry> kNoBgp;
  const std::vector<RouteEntry>& shared = gw ? GatewayBgp(*gw) : kNoBgp;
  size_t li = 0;
  for (const RouteEntry& b : shared) {
    // Whether this VNet keeps the shared route active, and why not.
    bool active = b.active;
    const IpPrefix* winner = nullptr;
    if (!propagate) {
      active = false;
    } else if (active) {
      for (const auto& sp : protected_) {
        if (sp.Contains(b.prefix)) {
          active = false;
          winner = &sp;
          break;
        }
      }
    }
    while (li < local.size() && !bgp_first(b.prefix, active, local[li])) {
      slot() = std::move(local[li++]);
    }
    RouteEntry& r = slot();
    r = b;
    if (!propagate) {
      r.active = false;
      r.note = "gateway route propagation disabled on route table " + rt->name;
    } else if (winner) {
      r.active = false;
      r.note = "VNet system route " + winner->ToString() + " wins over BGP";
    }
  }
  while (li < local.size()) slot() = std::move(local[li++]);
  // Identical prefixes: user beats everything; VNet and peering routes beat BGP; BGP beats
  // the Internet default route.
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && e[j].prefix == e[i].prefix) ++j;
    if (j - i == 1) {
      i = j;
      continue;
    }
    int winner = -1;
    for (size_t k = i; k < j; ++k) {
      if (!e[k].active) continue;
      auto rank = [](RouteOrigin o) {
        switch (o) {
          case RouteOrigin::kUser:
            return 0;
          case RouteOrigin::kVnetLocal:
          case RouteOrigin::kPeering:
            return 1;
          case RouteOrigin::kExpressRoute:
          case RouteOrigin::kVpn:
            return 2;
          default:
            return 3;
        }
      };
      if (winner < 0 || rank(e[k].origin) < rank(e[winner].origin)) winner = static_cast<int>(k);
    }
    bool regroup = false;
    for (size_t k = i; k < j; ++k) {
      if (static_cast<int>(k) == winner || !e[k].active) continue;
      e[k].active = false;
      e[k].note = e[winner].origin == RouteOrigin::kUser
                      ? "user route " + e[winner].via + " wins"
                      : std::string(RouteSourceName(e[winner].origin)) + " route wins";
      regroup = true;
    }
    // Keep the active route first within its prefix, others in their order (the table is
    // already sorted by prefix, so this equals a stable sort of the whole table).
    if (regroup) {
      std::stable_partition(e.begin() + static_cast<std::ptrdiff_t>(i),
                            e.begin() + static_cast<std::ptrdiff_t>(j),
                            [](const RouteEntry& x) { return x.active; });
    }
    i = j;
  }
  finish();
}

std::vector<VnetRouteTable> RouteComputer::AllVnetTables() {
  std::vector<VnetRouteTable> out;
  for (const auto& v : idx_.topology().vnets) {
    out.push_back(ForVnet(v));
    for (const auto& s : v.subnets)
      if (idx_.RouteTableOf(v.name, s.name)) out.push_back(ForVnet(v, s.name));
  }
  return out;
}

RouterRouteTable RouteComputer::ForRouter(const Site& s, const Router& r) {
  RouterRouteTable t;
  t.site = s.name;
  t.router = r.name;
  if (!failures_.RouterUp(r.name)) return t;
  std::map<IpPrefix, std::vector<RouteEntry>> by_prefix;
  const Topology& topo = idx_.topology();
  for (const auto& c : topo.circuits) {
    const CircuitPeering* p = c.Private();
    if (!p || !failures_.PeeringUp(idx_, c, *p)) continue;
    bool on_primary = p->primary_router == r.name && failures_.LinkUp(idx_, c, *p, true);
    bool on_secondary = p->secondary_router == r.name && failures_.LinkUp(idx_, c, *p, false);
    if (!on_primary && !on_secondary) continue;
    std::string link = on_primary && on_secondary ? "both links"
                       : on_primary               ? "primary"
                                                  : "secondary";
    auto add = [&](const IpPrefix& prefix, int path_len, const std::string& via,
                   const std::string& lands_in) {
      RouteEntry e;
      e.lands_in = lands_in;
      e.prefix = prefix;
      e.origin = RouteOrigin::kExpressRoute;
      e.next_hop_type = "ExpressRoute";
      e.next_hops = {c.name};
      e.via = via + " (" + link + ")";
      e.local_pref = p->local_pref;
      e.as_path_length = path_len;
      by_prefix[prefix].push_back(std::move(e));
    };
    for (const Connection* conn : idx_.ConnectionsOfCircuit(c.name)) {
      if (!failures_.GatewayUp(idx_, conn->gateway)) continue;
      for (const Vnet* v : idx_.VnetsUsingGatewayOf(conn->gateway.vnet)) {
        if (!failures_.RegionUp(v->region)) continue;
        for (const auto& a : v->address_space) add(a, 1, "vnet " + v->name, v->name);  // AS 12076
      }
    }
    // Global Reach: the other circuit's site prefixes, through Microsoft's backbone.
    for (const auto& g : topo.global_reach) {
      const std::string& other = g.circuit_a == c.name   ? g.circuit_b
                                 : g.circuit_b == c.name ? g.circuit_a
                                                         : std::string();
      const Circuit* oc = other.empty() ? nullptr : idx_.FindCircuit(other);
      const CircuitPeering* op = oc ? oc->Private() : nullptr;
      if (!op || !failures_.PeeringUp(idx_, *oc, *op)) continue;
      const Site* os = idx_.SiteOfCircuit(*oc);
      if (!os || os == &s) continue;
      for (const auto& a : op->advertise.empty() ? os->prefixes : op->advertise)
        add(a, 2 + op->as_path_prepend, "global reach " + other, "");
    }
  }
  for (const auto& vpn : topo.vpn_connections) {
    if (vpn.router != r.name || !failures_.VpnUp(idx_, vpn)) continue;
    for (const Vnet* v : idx_.VnetsUsingGatewayOf(vpn.gateway.vnet)) {
      if (!failures_.RegionUp(v->region)) continue;
      for (const auto& a : v->address_space) {
        RouteEntry e;
        e.prefix = a;
        e.origin = RouteOrigin::kVpn;
        e.next_hop_type = "Vpn";
        e.next_hops = {vpn.name};
        e.via = "vnet " + v->name;
        e.lands_in = v->name;
        e.local_pref = vpn.local_pref;
        e.as_path_length = 1;  // AS 65515
        by_prefix[a].push_back(std::move(e));
      }
    }
  }
  for (auto& [prefix, cands] : by_prefix) {
    std::stable_sort(cands.begin(), cands.end(), [](const RouteEntry& a, const RouteEntry& b) {
      if (a.local_pref != b.local_pref) return a.local_pref > b.local_pref;
      if (a.as_path_length != b.as_path_length) return a.as_path_length < b.as_path_length;
      return a.origin == RouteOrigin::kExpressRoute && b.origin != RouteOrigin::kExpressRoute;
    });
    RouteEntry best = cands[0];
    size_t i = 1;
    for (; i < cands.size(); ++i) {
      const RouteEntry& x = cands[i];
      if (x.local_pref != best.local_pref || x.as_path_length != best.as_path_length ||
          x.origin != best.origin || x.origin != RouteOrigin::kExpressRoute)
        break;
      best.next_hops.push_back(x.next_hops[0]);  // multipath over equal circuits
    }
    if (best.next_hops.size() > 1) {
      best.note = "multipath over " + Join(best.next_hops);
    } else if (i < cands.size()) {
      const RouteEntry& x = cands[i];
      best.note = x.local_pref != best.local_pref ? "higher local preference"
                  : x.as_path_length != best.as_path_length
                      ? "shorter AS path"
                      : "equal local preference and AS path: ExpressRoute preferred";
    }
    t.entries.push_back(best);
    for (; i < cands.size(); ++i) {
      RouteEntry lost = cands[i];
      lost.active = false;
      lost.note = lost.local_pref != best.local_pref           ? "lower local preference"
                  : lost.as_path_length != best.as_path_length ? "longer AS path"
                                                               : "backup path";
      t.entries.push_back(std::move(lost));
    }
  }
  SortEntries(&t.entries);
  return t;
}

const RouteEntry* Lookup(const std::vector<RouteEntry>& entries, const IpPrefix& address) {
  const RouteEntry* best = nullptr;
  for (const auto& e : entries) {
    if (!e.active || !e.prefix.Contains(address)) continue;
    if (!best || e.prefix.length() > best->prefix.length()) best = &e;
  }
  return best;
}

}  // namespace lifeline::net
