// Rule addr.circuit-overlap: VNets reachable through one circuit (linked directly or by
// gateway transit) have disjoint address spaces.
#include "net/checks/overlap.h"
#include "net/checks/rule_util.h"

namespace lifeline::net::checks {

LL_NET_RULE(AddrCircuitOverlap, "addr.circuit-overlap", Severity::kError, "ASR2",
            "VNets reachable through one circuit do not overlap") {
  for (const auto& c : ctx.topo.circuits) {
    std::vector<const Vnet*> vnets = ctx.index.VnetsBehindCircuit(c.name);
    std::vector<OwnedPrefix> ps;
    for (size_t i = 0; i < vnets.size(); ++i)
      for (const auto& a : vnets[i]->address_space) ps.push_back({a, static_cast<int>(i)});
    ForEachOverlap(ps, [&](const OwnedPrefix& a, const OwnedPrefix& b) {
      const Vnet* va = vnets[a.owner];
      const Vnet* vb = vnets[b.owner];
      out.Add(vb->loc, "vnet " + vb->name,
              "address space " + b.prefix.ToString() + " overlaps " + a.prefix.ToString() +
                  " of vnet '" + va->name + "', and both are reachable through circuit '" + c.name +
                  "': packets are dropped",
              "connect only one of them to the circuit at a time (for DR with retained IPs, "
              "disconnect the source before connecting the target), or re-address one");
    });
  }
}

}  // namespace lifeline::net::checks
