// `net plan`: the recovery networks derived per dr.ip_strategy (same or new address space,
// replica subnets and GatewaySubnet), the conflicts, and the ordered network steps a recovery
// plan must run with their time in the RTO (NETWORK_MODEL.md §4). Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "net/index.h"

namespace lifeline::net {

// Minutes each kind of step takes. The reference gives no creation times for gateways or
// connections: these defaults are operator assumptions, to be replaced by measured values.
struct PlanOptions {
  double gateway_minutes = 45;
  double connection_minutes = 5;
  double disconnect_minutes = 5;
  double peering_minutes = 2;          // both directions of one peering
  double route_table_minutes = 2;      // create + associate
  double onprem_routing_minutes = 10;  // manual: make the site prefer the target path
};

struct PlannedNetwork {
  std::string role;  // recovery | drill
  std::string source;
  std::string name;
  std::string region;
  bool exists = false;  // already in the topology (else derived)
  std::vector<IpPrefix> address_space;
  std::vector<Subnet> subnets;
};

struct PlanConflict {
  std::string id;  // same-space-one-circuit | premium-needed | missing-gateway | ...
  std::string message;
  std::string fix;
};

struct PlanStep {
  int order = 0;
  std::string action;  // disconnect-connection, create-gateway, create-connection, ...
  std::string element;
  double minutes = 0;  // time in the RTO (0 when pre-provisioned)
  bool preprovisioned = false;
  std::string note;
};

struct RecoveryPlan {
  std::string source_region;
  std::string target_region;
  std::string ip_strategy;
  std::vector<PlannedNetwork> networks;
  std::vector<PlanConflict> conflicts;
  std::vector<PlanStep> steps;
  double rto_network_minutes = 0;  // sum of the steps not pre-provisioned
};

// FailedPrecondition if the topology has no `dr` section.
Result<RecoveryPlan> MakePlan(const TopologyIndex& idx, const PlanOptions& opts = {});

}  // namespace lifeline::net
