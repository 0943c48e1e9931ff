// DR helpers shared by the dr.* rules: which circuits serve the source region and which
// would serve the target. Header-only; pure; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>

#include "net/index.h"

namespace lifeline::net::checks {

// Circuits connected to a gateway VNet in `region`.
inline std::set<std::string> CircuitsServingRegion(const TopologyIndex& idx,
                                                   const std::string& region) {
  std::set<std::string> out;
  for (const auto& c : idx.topology().connections) {
    const Vnet* v = idx.FindVnet(c.gateway.vnet);
    if (v && v->region == region) out.insert(c.circuit);
  }
  return out;
}

// Circuits the target would use: those already linked in the target region, else the
// circuits of the source region (a recovery plan links the target to them).
inline std::set<std::string> CircuitsForTarget(const TopologyIndex& idx, const DrConfig& dr) {
  std::set<std::string> t = CircuitsServingRegion(idx, dr.target_region);
  if (!t.empty()) return t;
  std::set<std::string> all;
  for (const auto& c : idx.topology().circuits) all.insert(c.name);
  return all;
}

}  // namespace lifeline::net::checks
