// Shared helpers for rule files: the LL_NET_RULE definition macro and small queries.
// Header-only; pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "net/check.h"
#include "net/limits.h"

// Defines `Rule NAME()` returning the rule and opens the body of its check function, which
// sees `ctx` (CheckContext) and `out` (FindingSink).
#define LL_NET_RULE(NAME, ID, SEVERITY, SOURCE, SUMMARY)                              \
  static void NAME##Check(const ::lifeline::net::CheckContext& ctx,                   \
                          ::lifeline::net::FindingSink& out);                         \
  ::lifeline::net::Rule NAME() {                                                      \
    return ::lifeline::net::Rule{ID, SEVERITY, SOURCE, SUMMARY, &NAME##Check, false}; \
  }                                                                                   \
  static void NAME##Check([[maybe_unused]] const ::lifeline::net::CheckContext& ctx,  \
                          [[maybe_unused]] ::lifeline::net::FindingSink& out)

// Same, for change rules that compare with `ctx.old_topo` (run only with --against).
#define LL_NET_CHANGE_RULE(NAME, ID, SEVERITY, SOURCE, SUMMARY)                      \
  static void NAME##Check(const ::lifeline::net::CheckContext& ctx,                  \
                          ::lifeline::net::FindingSink& out);                        \
  ::lifeline::net::Rule NAME() {                                                     \
    return ::lifeline::net::Rule{ID, SEVERITY, SOURCE, SUMMARY, &NAME##Check, true}; \
  }                                                                                  \
  static void NAME##Check([[maybe_unused]] const ::lifeline::net::CheckContext& ctx, \
                          [[maybe_unused]] ::lifeline::net::FindingSink& out)

namespace lifeline::net::checks {

inline constexpr const char* kGatewaySubnet = "GatewaySubnet";

inline const Subnet* FindSubnet(const Vnet& v, const std::string& name) {
  for (const auto& s : v.subnets)
    if (s.name == name) return &s;
  return nullptr;
}

inline std::string Join(const std::vector<std::string>& xs, const char* sep = ", ") {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : sep) + x;
  return s;
}

inline bool HasErGateway(const Vnet& v) {
  for (const auto& g : v.gateways)
    if (g.type == GatewayType::kExpressRoute) return true;
  return false;
}

// Number of connections an ExpressRoute gateway has (to distinct circuits).
inline int ConnectionCount(const TopologyIndex& idx, const Vnet& v) {
  return static_cast<int>(idx.ConnectionsOfVnet(v.name).size());
}

}  // namespace lifeline::net::checks
