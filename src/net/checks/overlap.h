// Overlap detection over many prefixes in O(n log n): used by the addressing rules that
// compare VNets behind a circuit or across peerings. Pure; thread-safe.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "net/prefix.h"

namespace lifeline::net::checks {

struct OwnedPrefix {
  IpPrefix prefix;
  int owner = 0;  // caller's id (e.g. index of a VNet)
};

// Calls `report(a, b)` for each prefix `b` that overlaps an earlier, containing prefix `a`
// of a different owner (each overlapping element reported once).
inline void ForEachOverlap(
    std::vector<OwnedPrefix> ps,
    const std::function<void(const OwnedPrefix&, const OwnedPrefix&)>& report) {
  std::sort(ps.begin(), ps.end(),
            [](const OwnedPrefix& a, const OwnedPrefix& b) { return a.prefix < b.prefix; });
  std::vector<const OwnedPrefix*> stack;  // chain of nested prefixes enclosing the cursor
  for (const auto& p : ps) {
    while (!stack.empty() && !stack.back()->prefix.Contains(p.prefix)) stack.pop_back();
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
      if ((*it)->owner != p.owner) {
        report(**it, p);
        break;
      }
    }
    stack.push_back(&p);
  }
}

}  // namespace lifeline::net::checks
