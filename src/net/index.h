// Name lookups and derived relations over a Topology (which VNet uses which gateway, which
// VNets sit behind a circuit). Built once, read-only afterwards: thread-safe for readers.
// REQUIRES: the Topology outlives the index and is not modified while the index is used.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/model.h"

namespace lifeline::net {

class TopologyIndex {
 public:
  explicit TopologyIndex(const Topology& t);

  const Topology& topology() const { return t_; }
  const Vnet* FindVnet(const std::string& name) const { return Find(vnets_, name); }
  const Circuit* FindCircuit(const std::string& name) const { return Find(circuits_, name); }
  const Site* FindSite(const std::string& name) const { return Find(sites_, name); }
  const Region* FindRegion(const std::string& name) const { return Find(regions_, name); }
  const PeeringLocation* FindLocation(const std::string& name) const {
    return Find(locations_, name);
  }
  const Router* FindRouter(const std::string& name) const { return Find(routers_, name); }
  const Site* SiteOfRouter(const std::string& router) const { return Find(router_site_, router); }
  const Gateway* FindGateway(const GatewayRef& ref) const;
  const Gateway* GatewayOfType(const Vnet& v, GatewayType type) const;

  // Geopolitical area of a region / of a circuit's peering location ("" if unknown).
  std::string RegionGeo(const std::string& region) const;
  std::string CircuitGeo(const Circuit& c) const;
  // The site a circuit's private (else any) peering reaches, through its link routers.
  const Site* SiteOfCircuit(const Circuit& c) const;

  const VnetPeering* FindPeering(const std::string& from, const std::string& to) const;
  const std::vector<const VnetPeering*>& PeeringsFrom(const std::string& vnet) const;
  // A peering is Connected when both directions exist (else only Initiated: no traffic).
  bool PeeringConnected(const VnetPeering& p) const { return FindPeering(p.to, p.from) != nullptr; }

  // The VNet whose gateways `v` uses: itself if it has a gateway, else the remote VNet of
  // its valid use_remote_gateways peering (remote has a gateway and allows transit, both
  // directions present); nullptr if none.
  const Vnet* GatewayVnet(const Vnet& v) const;
  // VNets whose gateway VNet is `hub` (including hub itself when it has a gateway).
  const std::vector<const Vnet*>& VnetsUsingGatewayOf(const std::string& hub) const;

  const std::vector<const Connection*>& ConnectionsOfCircuit(const std::string& c) const;
  const std::vector<const Connection*>& ConnectionsOfVnet(const std::string& v) const;
  // VNets reachable through a circuit: linked gateway VNets and the spokes using them.
  std::vector<const Vnet*> VnetsBehindCircuit(const std::string& circuit) const;

  // Route tables attached to a subnet (normally at most one).
  const RouteTable* RouteTableOf(const std::string& vnet, const std::string& subnet) const;

 private:
  template <typename T>
  static const T* Find(const std::unordered_map<std::string, const T*>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second;
  }

  // Two names as one key without building a string (lookups run per VNet and per rule).
  using NamePair = std::pair<std::string_view, std::string_view>;
  struct NamePairHash {
    size_t operator()(const NamePair& p) const {
      size_t h = std::hash<std::string_view>()(p.first);
      return h ^ (std::hash<std::string_view>()(p.second) + 0x9e3779b97f4a7c15ULL + (h << 6) +
                  (h >> 2));
    }
  };

  const Topology& t_;
  std::unordered_map<std::string, const Vnet*> vnets_;
  std::unordered_map<std::string, const Circuit*> circuits_;
  std::unordered_map<std::string, const Site*> sites_;
  std::unordered_map<std::string, const Region*> regions_;
  std::unordered_map<std::string, const PeeringLocation*> locations_;
  std::unordered_map<std::string, const Router*> routers_;
  std::unordered_map<std::string, const Site*> router_site_;
  std::unordered_map<NamePair, const VnetPeering*, NamePairHash> peerings_;  // (from, to)
  std::unordered_map<std::string, std::vector<const VnetPeering*>> peerings_from_;
  std::unordered_map<std::string, std::vector<const Connection*>> conns_by_circuit_;
  std::unordered_map<std::string, std::vector<const Connection*>> conns_by_vnet_;
  std::unordered_map<std::string, const Vnet*> gateway_vnet_;
  std::unordered_map<std::string, std::vector<const Vnet*>> using_gateway_of_;
  std::unordered_map<NamePair, const RouteTable*, NamePairHash> table_of_subnet_;
};

}  // namespace lifeline::net
