// `net simulate`: what a failure does to every flow (site <-> VNet, VNet <-> VNet): path before
// and after, reachability, and the outage split into detection (BFD or BGP hold time, as
// negotiated with the MSEE), gateway convergence and the capacity left (NETWORK_MODEL.md §4).
// Pure functions over the model; thread-safe for concurrent callers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/failures.h"
#include "net/index.h"

namespace lifeline::net {

struct SimulateOptions {
  double gateway_convergence_s = 60;  // BFD: "up to 1 minute" worst case
  // Detection of a dead site-to-site VPN: the BGP hold time over the tunnel (an assumption;
  // the reference gives no figure for Azure VPN gateways).
  double vpn_detection_s = 180;
};

// How fast the loss of a circuit link is noticed, from the peering's settings.
struct Detection {
  bool bfd = false;
  double seconds = 0;
  std::string how;  // "BFD 300 ms x 3 (MSEE minimum 300 ms)" / "BGP hold 180 s (negotiated)"
};
Detection LinkDetection(const CircuitPeering& p);

struct FlowResult {
  std::string flow;  // "hq <-> vnet1"
  std::string kind;  // site-vnet | vnet-vnet
  std::string path_before;
  std::string path_after;
  bool reachable_before = false;
  bool reachable_after = false;
  bool affected = false;              // the failure touched this flow's path
  double affected_fraction = 0;       // share of the flow's sessions hit (0.5 for one link)
  std::optional<double> detection_s;  // nullopt when not affected or unreachable
  std::optional<double> convergence_s;
  std::optional<double> outage_s;  // detection + convergence; nullopt if unreachable
  std::string detection_how;
  int64_t capacity_before_mbps = 0;  // 0 = unknown (VPN) or none
  int64_t capacity_after_mbps = 0;
  std::string note;
};

struct SimulationResult {
  std::vector<Element> failed;
  std::vector<FlowResult> flows;
  int unreachable = 0;  // flows reachable before and not after
  int affected = 0;
  double worst_outage_s = 0;  // among flows that stay reachable
};

SimulationResult Simulate(const TopologyIndex& idx, const std::vector<Element>& failed,
                          const SimulateOptions& opts = {});

// Every single failure, ranked: most flows lost, then longest outage, then most affected.
std::vector<SimulationResult> SimulateAllSingleFailures(const TopologyIndex& idx,
                                                        const SimulateOptions& opts = {});

}  // namespace lifeline::net
