// Plan derivation. Steps follow the seeds' failover example: (disconnect the source when the
// address space is retained on a shared circuit), create the target gateway, connect it to
// the circuit, peer hub and spokes, set up the UDRs, then make on-premises prefer the new path.
#include "net/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "net/limits.h"

namespace lifeline::net {
namespace {

// Moves `p` from inside `from` to the same offset inside `to` (same length as `from`).
IpPrefix Rebase(const IpPrefix& p, const IpPrefix& from, const IpPrefix& to) {
  std::array<uint8_t, 16> b = p.bytes();
  const auto& t = to.bytes();
  for (int bit = 0; bit < from.length(); ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    b[bit / 8] = static_cast<uint8_t>((b[bit / 8] & ~mask) | (t[bit / 8] & mask));
  }
  return IpPrefix::FromBytes(p.v6(), b, p.length());
}

class Allocator {
 public:
  explicit Allocator(const Topology& t) {
    for (const auto& v : t.vnets)
      used_.insert(used_.end(), v.address_space.begin(), v.address_space.end());
    for (const auto& s : t.sites) used_.insert(used_.end(), s.prefixes.begin(), s.prefixes.end());
    for (const auto& c : t.circuits)
      for (const auto& p : c.peerings) {
        if (p.primary_prefix) used_.push_back(*p.primary_prefix);
        if (p.secondary_prefix) used_.push_back(*p.secondary_prefix);
      }
    for (const auto& g : t.global_reach) used_.push_back(g.prefix);
  }
  // The first free prefix of `length` in the private pools; false if none.
  bool Take(bool v6, int length, IpPrefix* out) {
    std::vector<IpPrefix> pools;
    for (const char* s :
         v6 ? std::vector<const char*>{"fd00::/8"}
            : std::vector<const char*>{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"})
      pools.push_back(*IpPrefix::Parse(s));
    for (const auto& pool : pools) {
      if (length < pool.length()) continue;
      IpPrefix cand = pool.Subprefix(length, 0);
      for (int tries = 0; tries < 1 << 16 && pool.Contains(cand); ++tries) {
        bool clash = false;
        for (const auto& u : used_) clash = clash || u.Overlaps(cand);
        if (!clash) {
          used_.push_back(cand);
          *out = cand;
          return true;
        }
        if (!cand.Next(&cand)) break;
      }
    }
    return false;
  }

 private:
  std::vector<IpPrefix> used_;
};

}  // namespace

Result<RecoveryPlan> MakePlan(const TopologyIndex& idx, const PlanOptions& o) {
  const Topology& t = idx.topology();
  if (!t.dr) return Status::FailedPrecondition("the topology has no dr section");
  const DrConfig& dr = *t.dr;
  RecoveryPlan plan;
  plan.source_region = dr.source_region;
  plan.target_region = dr.target_region;
  plan.ip_strategy = dr.ip_strategy;
  Allocator alloc(t);

  std::map<std::string, std::string> target_of;  // source vnet -> recovery vnet
  for (const auto& m : dr.network_mapping) target_of[m.source] = m.target;

  auto derive = [&](const Vnet& src, const std::string& name, const std::string& role,
                    bool retain) {
    PlannedNetwork n;
    n.role = role;
    n.source = src.name;
    n.name = name;
    n.region = dr.target_region;
    if (const Vnet* existing = idx.FindVnet(name)) {
      n.exists = true;
      n.address_space = existing->address_space;
      n.subnets = existing->subnets;
      return n;
    }
    for (const auto& a : src.address_space) {
      IpPrefix na = a;
      if (!retain && !alloc.Take(a.v6(), a.length(), &na)) {
        plan.conflicts.push_back(
            {"no-address-space",
             "no free " + std::to_string(a.length()) + "-bit private prefix for " + name,
             "map to an existing target vnet"});
      }
      n.address_space.push_back(na);
      for (const auto& s : src.subnets) {
        if (!a.Contains(s.prefix)) continue;
        Subnet ns = s;
        ns.prefix = retain ? s.prefix : Rebase(s.prefix, a, na);
        ns.loc = {};
        n.subnets.push_back(ns);
      }
    }
    return n;
  };

  for (const auto& m : dr.network_mapping) {
    const Vnet* src = idx.FindVnet(m.source);
    if (!src) continue;
    plan.networks.push_back(derive(*src, m.target, "recovery", dr.ip_strategy == "retain"));
    std::string drill = m.drill.empty() ? m.source + "-drill" : m.drill;
    plan.networks.push_back(derive(*src, drill, "drill", false));  // isolated, own addresses
  }

  // Source hubs: mapped VNets with an ExpressRoute gateway, and their target counterparts.
  std::set<std::string> source_circuits;
  for (const auto& c : t.connections) {
    const Vnet* v = idx.FindVnet(c.gateway.vnet);
    if (v && v->region == dr.source_region) source_circuits.insert(c.circuit);
  }
  int order = 0;
  auto step = [&](std::string action, std::string element, double minutes, bool pre,
                  std::string note) {
    plan.steps.push_back(PlanStep{++order, std::move(action), std::move(element), pre ? 0 : minutes,
                                  pre, std::move(note)});
  };
  bool retain = dr.ip_strategy == "retain";
  std::string target_geo = idx.RegionGeo(dr.target_region);

  for (const auto& m : dr.network_mapping) {
    const Vnet* src = idx.FindVnet(m.source);
    if (!src) continue;
    const Gateway* sgw = idx.GatewayOfType(*src, GatewayType::kExpressRoute);
    if (!sgw) continue;  // spokes: handled through peerings below
    const Vnet* tgt = idx.FindVnet(m.target);
    const Gateway* tgw = tgt ? idx.GatewayOfType(*tgt, GatewayType::kExpressRoute) : nullptr;
    // Circuit for the target: one already connected to the target hub, else one not used by
    // the source (another peering location), else the source's circuit.
    std::string circuit;
    if (tgt)
      for (const Connection* c : idx.ConnectionsOfVnet(tgt->name)) circuit = c->circuit;
    bool shared = false;
    if (circuit.empty()) {
      for (const auto& c : t.circuits)
        if (!source_circuits.count(c.name) && c.Private() && circuit.empty()) circuit = c.name;
    }
    if (circuit.empty() && !source_circuits.empty()) {
      circuit = *source_circuits.begin();
      shared = true;
    }
    const Circuit* ck = idx.FindCircuit(circuit);
    if (ck && !IsPremium(*ck) && idx.CircuitGeo(*ck) != target_geo) {
      plan.conflicts.push_back({"premium-needed",
                                "circuit '" + circuit + "' (" + ck->sku.tier + ", " +
                                    idx.CircuitGeo(*ck) + ") cannot reach target region '" +
                                    dr.target_region + "' (" + target_geo + ")",
                                "enable Premium on '" + circuit + "' before failover"});
    }
    if (shared && retain) {
      plan.conflicts.push_back(
          {"same-space-one-circuit",
           "source and target of '" + m.source + "' share address space and circuit '" + circuit +
               "'",
           "the plan disconnects the source first; this can fail while the primary region is "
           "down (then remove the connection from the circuit side) — prefer a second circuit "
           "or ip_strategy: new"});
      for (const Connection* c : idx.ConnectionsOfVnet(src->name)) {
        if (c->circuit == circuit) {
          step("disconnect-connection", c->name, o.disconnect_minutes, false,
               "before connecting the target (same address space); may fail while " +
                   dr.source_region + " is down");
        }
      }
    }
    if (!tgw) {
      plan.conflicts.push_back({"missing-gateway",
                                "target hub '" + m.target + "' has no ExpressRoute gateway",
                                "pre-provision it (Site Recovery does not create gateways) or "
                                "keep the create-gateway step in the plan"});
    }
    step("create-gateway", m.target + "/" + sgw->name + " (" + sgw->sku + ")", o.gateway_minutes,
         tgw != nullptr, tgw ? "already present" : "the longest network step of the RTO");
    bool connected = false;
    if (tgt)
      for (const Connection* c : idx.ConnectionsOfVnet(tgt->name))
        connected = connected || c->circuit == circuit;
    step("create-connection", m.target + " -> " + circuit, o.connection_minutes,
         connected && !(shared && retain), connected ? "already present" : "");
  }
  // Peerings between mapped VNets, as on the source side (same flags).
  for (const auto& p : t.vnet_peerings) {
    auto a = target_of.find(p.from), b = target_of.find(p.to);
    if (a == target_of.end() || b == target_of.end() || p.from > p.to) continue;
    bool pre = idx.FindPeering(a->second, b->second) && idx.FindPeering(b->second, a->second);
    step("create-peering", a->second + " <-> " + b->second, o.peering_minutes, pre,
         pre ? "already present" : "same flags as " + p.from + " <-> " + p.to);
  }
  // Route tables used by mapped VNets in the source.
  for (const auto& rt : t.route_tables) {
    std::vector<std::string> targets;
    for (const auto& ref : rt.subnets) {
      auto it = target_of.find(ref.vnet);
      if (it != target_of.end()) targets.push_back(it->second + "/" + ref.subnet);
    }
    if (targets.empty()) continue;
    bool pre = true;
    for (const auto& tg : targets) {
      size_t slash = tg.find('/');
      pre = pre && idx.RouteTableOf(tg.substr(0, slash), tg.substr(slash + 1));
    }
    std::string list;
    for (const auto& tg : targets) list += (list.empty() ? "" : ", ") + tg;
    step("create-route-table", rt.name + "-dr on " + list, o.route_table_minutes, pre,
         pre      ? "already present"
         : retain ? "same routes as the source"
                  : "routes rewritten for the new addresses");
  }
  if (!target_of.empty()) {
    step("onprem-routing", "site routers", o.onprem_routing_minutes, false,
         "make on-premises prefer the target path (local preference), then verify");
  }
  for (const auto& s : plan.steps) plan.rto_network_minutes += s.minutes;
  return plan;
}

}  // namespace lifeline::net
