// Builds the lookups in one pass over the model; derived relations are computed eagerly so
// that checks over thousands of VNets stay linear.
#include "net/index.h"

namespace lifeline::net {
namespace {
const std::vector<const VnetPeering*> kNoPeerings;
const std::vector<const Connection*> kNoConnections;
const std::vector<const Vnet*> kNoVnets;
}  // namespace

TopologyIndex::TopologyIndex(const Topology& t) : t_(t) {
  for (const auto& x : t.vnets) vnets_.emplace(x.name, &x);
  for (const auto& x : t.circuits) circuits_.emplace(x.name, &x);
  for (const auto& x : t.regions) regions_.emplace(x.name, &x);
  for (const auto& x : t.peering_locations) locations_.emplace(x.name, &x);
  for (const auto& s : t.sites) {
    sites_.emplace(s.name, &s);
    for (const auto& r : s.routers) {
      routers_.emplace(r.name, &r);
      router_site_.emplace(r.name, &s);
    }
  }
  for (const auto& p : t.vnet_peerings) {
    peerings_.emplace(NamePair(p.from, p.to), &p);
    peerings_from_[p.from].push_back(&p);
  }
  for (const auto& c : t.connections) {
    conns_by_circuit_[c.circuit].push_back(&c);
    conns_by_vnet_[c.gateway.vnet].push_back(&c);
  }
  for (const auto& rt : t.route_tables) {
    for (const auto& ref : rt.subnets) {
      table_of_subnet_.emplace(NamePair(ref.vnet, ref.subnet), &rt);
    }
  }
  for (const auto& v : t.vnets) {
    const Vnet* gw = nullptr;
    if (!v.gateways.empty()) {
      gw = &v;
    } else {
      for (const VnetPeering* p : PeeringsFrom(v.name)) {
        if (!p->use_remote_gateways) continue;
        const Vnet* remote = FindVnet(p->to);
        const VnetPeering* back = FindPeering(p->to, p->from);
        if (remote && !remote->gateways.empty() && back && back->allow_gateway_transit) {
          gw = remote;
          break;
        }
      }
    }
    if (gw) {
      gateway_vnet_.emplace(v.name, gw);
      using_gateway_of_[gw->name].push_back(&v);
    }
  }
}

const Gateway* TopologyIndex::FindGateway(const GatewayRef& ref) const {
  const Vnet* v = FindVnet(ref.vnet);
  if (!v) return nullptr;
  for (const auto& g : v->gateways)
    if (g.name == ref.gateway) return &g;
  return nullptr;
}

const Gateway* TopologyIndex::GatewayOfType(const Vnet& v, GatewayType type) const {
  for (const auto& g : v.gateways)
    if (g.type == type) return &g;
  return nullptr;
}

std::string TopologyIndex::RegionGeo(const std::string& region) const {
  const Region* r = FindRegion(region);
  return r ? r->geo : "";
}

std::string TopologyIndex::CircuitGeo(const Circuit& c) const {
  const PeeringLocation* l = FindLocation(c.peering_location);
  return l ? l->geo : "";
}

const Site* TopologyIndex::SiteOfCircuit(const Circuit& c) const {
  const CircuitPeering* p = c.Private();
  if (!p && !c.peerings.empty()) p = &c.peerings.front();
  if (!p) return nullptr;
  if (const Site* s = SiteOfRouter(p->primary_router)) return s;
  return SiteOfRouter(p->secondary_router);
}

const VnetPeering* TopologyIndex::FindPeering(const std::string& from,
                                              const std::string& to) const {
  auto it = peerings_.find(NamePair(from, to));
  return it == peerings_.end() ? nullptr : it->second;
}

const std::vector<const VnetPeering*>& TopologyIndex::PeeringsFrom(const std::string& vnet) const {
  auto it = peerings_from_.find(vnet);
  return it == peerings_from_.end() ? kNoPeerings : it->second;
}

const Vnet* TopologyIndex::GatewayVnet(const Vnet& v) const {
  auto it = gateway_vnet_.find(v.name);
  return it == gateway_vnet_.end() ? nullptr : it->second;
}

const std::vector<const Vnet*>& TopologyIndex::VnetsUsingGatewayOf(const std::string& hub) const {
  auto it = using_gateway_of_.find(hub);
  return it == using_gateway_of_.end() ? kNoVnets : it->second;
}

const std::vector<const Connection*>& TopologyIndex::ConnectionsOfCircuit(
    const std::string& c) const {
  auto it = conns_by_circuit_.find(c);
  return it == conns_by_circuit_.end() ? kNoConnections : it->second;
}

const std::vector<const Connection*>& TopologyIndex::ConnectionsOfVnet(const std::string& v) const {
  auto it = conns_by_vnet_.find(v);
  return it == conns_by_vnet_.end() ? kNoConnections : it->second;
}

std::vector<const Vnet*> TopologyIndex::VnetsBehindCircuit(const std::string& circuit) const {
  std::vector<const Vnet*> out;
  for (const Connection* c : ConnectionsOfCircuit(circuit)) {
    for (const Vnet* v : VnetsUsingGatewayOf(c->gateway.vnet)) {
      bool dup = false;
      for (const Vnet* o : out) dup = dup || o == v;
      if (!dup) out.push_back(v);
    }
  }
  return out;
}

const RouteTable* TopologyIndex::RouteTableOf(const std::string& vnet,
                                              const std::string& subnet) const {
  auto it = table_of_subnet_.find(NamePair(vnet, subnet));
  return it == table_of_subnet_.end() ? nullptr : it->second;
}

}  // namespace lifeline::net
