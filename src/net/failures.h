// A set of failed elements (NETWORK_MODEL.md §4) and the "is this element up" questions that
// routes and simulate ask. Value type; thread-compatible.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/index.h"

namespace lifeline::net {

enum class ElementKind { kLink, kCircuit, kLocation, kRouter, kGateway, kVpn, kRegion };
const char* ElementKindName(
    ElementKind k);  // link, circuit, location, router, gateway, vpn, region

struct Element {
  ElementKind kind = ElementKind::kCircuit;
  std::string name;  // "er-hk/primary", "er-hk", "hongkong", "hq-edge-1", "hub/ergw", ...
  bool operator<(const Element& o) const { return kind != o.kind ? kind < o.kind : name < o.name; }
  bool operator==(const Element& o) const = default;
};

// Resolves "er-hk/primary", "er-hk", "hongkong", "hq-edge-1", "hub/ergw", "hq-backup",
// "eastasia" (optionally written "KIND:NAME" to disambiguate). NotFound with a suggestion,
// InvalidArgument if the name is ambiguous.
Result<Element> ResolveElement(const TopologyIndex& idx, const std::string& text);
// Every element a single failure can hit, in a stable order.
std::vector<Element> AllElements(const Topology& t);

class FailureSet {
 public:
  FailureSet() = default;
  explicit FailureSet(std::vector<Element> failed) : failed_(failed.begin(), failed.end()) {}
  bool empty() const { return failed_.empty(); }
  const std::set<Element>& elements() const { return failed_; }

  // REQUIRES: `idx` indexes the topology the elements were resolved against.
  bool LinkUp(const TopologyIndex& idx, const Circuit& c, const CircuitPeering& p,
              bool primary) const;
  int LinksUp(const TopologyIndex& idx, const Circuit& c, const CircuitPeering& p) const;
  // The peering carries routes: enabled, circuit provisioned, at least one link up.
  bool PeeringUp(const TopologyIndex& idx, const Circuit& c, const CircuitPeering& p) const;
  bool GatewayUp(const TopologyIndex& idx, const GatewayRef& g) const;
  bool VpnUp(const TopologyIndex& idx, const VpnConnection& v) const;
  bool RegionUp(const std::string& region) const { return !Has(ElementKind::kRegion, region); }
  bool RouterUp(const std::string& router) const { return !Has(ElementKind::kRouter, router); }

  bool Has(ElementKind k, const std::string& name) const {
    return failed_.count(Element{k, name}) != 0;
  }

 private:
  std::set<Element> failed_;
};

}  // namespace lifeline::net
