// Element names and liveness. A circuit is down with its peering location; a link is down
// with its circuit or its CE router; a gateway is down with its region.
#include "net/failures.h"

#include "net/names.h"

namespace lifeline::net {

const char* ElementKindName(ElementKind k) {
  switch (k) {
    case ElementKind::kLink:
      return "link";
    case ElementKind::kCircuit:
      return "circuit";
    case ElementKind::kLocation:
      return "location";
    case ElementKind::kRouter:
      return "router";
    case ElementKind::kGateway:
      return "gateway";
    case ElementKind::kVpn:
      return "vpn";
    case ElementKind::kRegion:
      return "region";
  }
  return "circuit";
}

std::vector<Element> AllElements(const Topology& t) {
  std::vector<Element> out;
  for (const auto& c : t.circuits) {
    out.push_back({ElementKind::kLink, c.name + "/primary"});
    out.push_back({ElementKind::kLink, c.name + "/secondary"});
  }
  for (const auto& c : t.circuits) out.push_back({ElementKind::kCircuit, c.name});
  for (const auto& l : t.peering_locations) out.push_back({ElementKind::kLocation, l.name});
  for (const auto& s : t.sites)
    for (const auto& r : s.routers) out.push_back({ElementKind::kRouter, r.name});
  for (const auto& v : t.vnets)
    for (const auto& g : v.gateways) out.push_back({ElementKind::kGateway, v.name + "/" + g.name});
  for (const auto& v : t.vpn_connections) out.push_back({ElementKind::kVpn, v.name});
  for (const auto& r : t.regions) out.push_back({ElementKind::kRegion, r.name});
  return out;
}

Result<Element> ResolveElement(const TopologyIndex& idx, const std::string& text) {
  std::string kind_filter, name = text;
  size_t colon = text.find(':');
  if (colon != std::string::npos) {
    kind_filter = text.substr(0, colon);
    name = text.substr(colon + 1);
  }
  std::vector<Element> hits;
  std::vector<std::string> all_names;
  for (const auto& e : AllElements(idx.topology())) {
    all_names.push_back(e.name);
    if (e.name == name && (kind_filter.empty() || kind_filter == ElementKindName(e.kind))) {
      hits.push_back(e);
    }
  }
  if (hits.empty()) {
    return Status::NotFound("no element '" + text +
                            "' (links are CIRCUIT/primary or "
                            "CIRCUIT/secondary, gateways VNET/GATEWAY)" +
                            DidYouMean(name, all_names));
  }
  if (hits.size() > 1) {
    std::string kinds;
    for (const auto& h : hits)
      kinds += std::string(kinds.empty() ? "" : ", ") + ElementKindName(h.kind);
    return Status::InvalidArgument("'" + text + "' names several elements (" + kinds +
                                   "): write KIND:NAME, e.g. " + ElementKindName(hits[0].kind) +
                                   ":" + name);
  }
  return hits[0];
}

bool FailureSet::LinkUp(const TopologyIndex& idx, const Circuit& c, const CircuitPeering& p,
                        bool primary) const {
  const std::string& router = primary ? p.primary_router : p.secondary_router;
  if (router.empty()) return false;  // link not configured
  if (Has(ElementKind::kCircuit, c.name) || Has(ElementKind::kLocation, c.peering_location)) {
    return false;
  }
  if (Has(ElementKind::kLink, c.name + (primary ? "/primary" : "/secondary"))) return false;
  if (!RouterUp(router)) return false;
  (void)idx;
  return true;
}

int FailureSet::LinksUp(const TopologyIndex& idx, const Circuit& c, const CircuitPeering& p) const {
  return (LinkUp(idx, c, p, true) ? 1 : 0) + (LinkUp(idx, c, p, false) ? 1 : 0);
}

bool FailureSet::PeeringUp(const TopologyIndex& idx, const Circuit& c,
                           const CircuitPeering& p) const {
  bool provisioned = (c.direct_port_gbps != 0 || c.service_provider_state == "Provisioned") &&
                     c.circuit_state == "Enabled";
  return p.enabled && provisioned && LinksUp(idx, c, p) > 0;
}

bool FailureSet::GatewayUp(const TopologyIndex& idx, const GatewayRef& g) const {
  if (Has(ElementKind::kGateway, g.ToString())) return false;
  const Vnet* v = idx.FindVnet(g.vnet);
  return v && RegionUp(v->region) && idx.FindGateway(g) != nullptr;
}

bool FailureSet::VpnUp(const TopologyIndex& idx, const VpnConnection& v) const {
  if (Has(ElementKind::kVpn, v.name)) return false;
  if (!v.router.empty() && !RouterUp(v.router)) return false;
  return GatewayUp(idx, v.gateway);
}

}  // namespace lifeline::net
