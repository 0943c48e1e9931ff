// Reference resolution: dangling names are errors at the referring element, with the
// closest existing name as a suggestion.
#include "net/topology_resolve.h"

#include <unordered_map>
#include <unordered_set>

#include "net/names.h"

namespace lifeline::net {
namespace {

class Names {
 public:
  Names(const char* kind, YamlReader* r) : kind_(kind), r_(r) {}
  void Add(const std::string& name, const Loc& loc) {
    if (name.empty()) return;
    if (!set_.insert(name).second) {
      r_->Error(loc, std::string("duplicate ") + kind_ + " name '" + name + "'");
      return;
    }
    list_.push_back(name);
  }
  bool Has(const std::string& name) const { return set_.count(name) != 0; }
  // Reports `name` at `loc` if it is not defined.
  void Require(const std::string& name, const Loc& loc, const std::string& where) {
    if (name.empty() || Has(name)) return;
    r_->Error(loc,
              where + " refers to unknown " + kind_ + " '" + name + "'" + DidYouMean(name, list_));
  }

 private:
  const char* kind_;
  YamlReader* r_;
  std::unordered_set<std::string> set_;
  std::vector<std::string> list_;
};

}  // namespace

void ResolveReferences(const Topology& t, YamlReader* r) {
  Names regions("region", r), locations("peering location", r), sites("site", r),
      routers("router", r), vnets("vnet", r), circuits("circuit", r), tables("route table", r),
      conns("connection", r);
  for (const auto& x : t.regions) regions.Add(x.name, x.loc);
  for (const auto& x : t.peering_locations) locations.Add(x.name, x.loc);
  std::unordered_map<std::string, std::string> router_site;
  for (const auto& s : t.sites) {
    sites.Add(s.name, s.loc);
    for (const auto& ro : s.routers) {
      routers.Add(ro.name, ro.loc);  // routers are named across sites: circuits cite them
      router_site.emplace(ro.name, s.name);
    }
  }
  std::unordered_map<std::string, const Vnet*> vnet_by_name;
  for (const auto& v : t.vnets) {
    vnets.Add(v.name, v.loc);
    vnet_by_name.emplace(v.name, &v);
    regions.Require(v.region, v.loc, "vnet '" + v.name + "'");
    Names subnets("subnet", r), gws("gateway", r);
    for (const auto& s : v.subnets) subnets.Add(s.name, s.loc);
    for (const auto& g : v.gateways) gws.Add(g.name, g.loc);
    for (const auto& e : v.service_endpoints) {
      subnets.Require(e.subnet, e.loc, "service endpoint of vnet '" + v.name + "'");
    }
  }
  for (const auto& x : t.route_tables) tables.Add(x.name, x.loc);
  for (const auto& c : t.circuits) {
    circuits.Add(c.name, c.loc);
    locations.Require(c.peering_location, c.loc, "circuit '" + c.name + "'");
    for (const auto& p : c.peerings) {
      routers.Require(p.primary_router, p.loc, "links.primary of circuit '" + c.name + "'");
      routers.Require(p.secondary_router, p.loc, "links.secondary of circuit '" + c.name + "'");
      auto a = router_site.find(p.primary_router), b = router_site.find(p.secondary_router);
      if (a != router_site.end() && b != router_site.end() && a->second != b->second) {
        r->Error(p.loc, "circuit '" + c.name +
                            "': the primary and secondary links end at "
                            "routers of different sites ('" +
                            a->second + "', '" + b->second + "')");
      }
    }
  }
  for (const auto& p : t.vnet_peerings) {
    vnets.Require(p.from, p.loc, "vnet peering");
    vnets.Require(p.to, p.loc, "vnet peering");
    if (!p.from.empty() && p.from == p.to) r->Error(p.loc, "a vnet cannot peer with itself");
  }
  for (const auto& rt : t.route_tables) {
    for (const auto& ref : rt.subnets) {
      auto it = vnet_by_name.find(ref.vnet);
      if (it == vnet_by_name.end()) {
        vnets.Require(ref.vnet, ref.loc, "route table '" + rt.name + "'");
        continue;
      }
      std::vector<std::string> names;
      bool found = false;
      for (const auto& s : it->second->subnets) {
        names.push_back(s.name);
        found = found || s.name == ref.subnet;
      }
      if (!found) {
        r->Error(ref.loc, "route table '" + rt.name + "' refers to unknown subnet '" + ref.subnet +
                              "' of vnet '" + ref.vnet + "'" + DidYouMean(ref.subnet, names));
      }
    }
  }
  auto require_gateway = [&](const GatewayRef& g, const Loc& loc, const std::string& where,
                             GatewayType type) {
    auto it = vnet_by_name.find(g.vnet);
    if (it == vnet_by_name.end()) {
      vnets.Require(g.vnet, loc, where);
      return;
    }
    std::vector<std::string> names;
    for (const auto& gw : it->second->gateways) {
      names.push_back(gw.name);
      if (gw.name == g.gateway) {
        if (gw.type != type) {
          r->Error(loc, where + ": gateway '" + g.ToString() + "' is of type " +
                            GatewayTypeName(gw.type) + ", expected " + GatewayTypeName(type));
        }
        return;
      }
    }
    if (g.vnet.empty()) return;
    r->Error(loc, where + " refers to unknown gateway '" + g.ToString() + "'" +
                      DidYouMean(g.gateway, names));
  };
  for (const auto& c : t.connections) {
    conns.Add(c.name, c.loc);
    require_gateway(c.gateway, c.loc, "connection '" + c.name + "'", GatewayType::kExpressRoute);
    circuits.Require(c.circuit, c.loc, "connection '" + c.name + "'");
  }
  for (const auto& v : t.vpn_connections) {
    conns.Add(v.name, v.loc);
    require_gateway(v.gateway, v.loc, "vpn connection '" + v.name + "'", GatewayType::kVpn);
    sites.Require(v.site, v.loc, "vpn connection '" + v.name + "'");
    routers.Require(v.router, v.loc, "vpn connection '" + v.name + "'");
    auto it = router_site.find(v.router);
    if (it != router_site.end() && sites.Has(v.site) && it->second != v.site) {
      r->Error(v.loc, "vpn connection '" + v.name + "': router '" + v.router +
                          "' belongs to site '" + it->second + "', not '" + v.site + "'");
    }
    circuits.Require(v.over_circuit, v.loc, "vpn connection '" + v.name + "'");
  }
  for (const auto& g : t.global_reach) {
    circuits.Require(g.circuit_a, g.loc, "global_reach");
    circuits.Require(g.circuit_b, g.loc, "global_reach");
    if (!g.circuit_a.empty() && g.circuit_a == g.circuit_b) {
      r->Error(g.loc, "global_reach connects a circuit to itself");
    }
  }
  if (t.dr) {
    const DrConfig& d = *t.dr;
    regions.Require(d.source_region, d.loc, "dr.source_region");
    regions.Require(d.target_region, d.loc, "dr.target_region");
    if (!d.source_region.empty() && d.source_region == d.target_region) {
      r->Error(d.loc, "dr.source_region and dr.target_region are the same region");
    }
    for (const auto& m : d.network_mapping) {
      vnets.Require(m.source, m.loc, "dr.network_mapping");
      // Targets and drill networks may be absent: `net plan` derives them.
    }
    sites.Require(d.replication_site, d.replication_loc, "dr.replication_path");
  }
}

}  // namespace lifeline::net
