// The lab's blueprint: which namespaces, veth links, addresses and BIRD routers a topology
// becomes on one host (NETWORK_MODEL.md §5). Pure function of the model; value types.
// Executing the plan (ip, tc, bird) is lab_runner's job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/model.h"

namespace lifeline::lab {

inline constexpr uint32_t kMseeAsn = 12076;
inline constexpr int kMseeMinBfdIntervalMs = 300;  // the MSEE is never faster
inline constexpr int kMseeHoldS = 180;
inline constexpr int kMseeKeepaliveS = 60;

enum class NsRole { kSiteRouter, kSiteHost, kMsee, kGateway, kVnet };
const char* NsRoleName(NsRole r);

struct Namespace {
  std::string name;     // ll-<lab>-<element>
  std::string element;  // model element: router, "er-hk/primary" (MSEE), "hub/ergw", vnet
  NsRole role = NsRole::kVnet;
  std::string host_address;  // site host / VNet: the address probes and services use
  std::string default_via;   // VNet: default route next hop (gateway side of its link)
};

// One veth pair. Interface names are unique inside their namespace only (created there).
struct Link {
  std::string ns_a, if_a, addr_a;  // addr with length: "192.168.100.129/30"
  std::string ns_b, if_b, addr_b;
  int64_t rate_mbps = 0;  // tbf shaping on both ends; 0 = none
  std::string circuit;    // circuit links: circuit name
  std::string link;       // "primary" | "secondary" for circuit links; "" otherwise
  std::string element;    // what `lab fail` calls it: "er-hk/primary", vpn name, ...
};

struct BgpNeighbor {
  std::string protocol;  // BIRD protocol name (never a BIRD keyword)
  std::string local_address;
  std::string neighbor_address;
  uint32_t local_asn = 0;
  uint32_t neighbor_asn = 0;
  int hold_s = 180;
  int keepalive_s = 60;
  bool bfd = false;
  int bfd_interval_ms = 300;
  int bfd_multiplier = 3;
  int import_local_pref = 0;  // 0 = leave as received / default
  int prepend = 0;            // extra copies of the local ASN on export
  bool ibgp_next_hop_self = false;
  enum class Export { kStatic, kAll, kBgp } export_what = Export::kAll;
  // Where this session's routes go (for status): circuit + link, or VPN name.
  std::string circuit;
  std::string link;
  std::string vpn;
};

struct StaticRoute {
  std::string prefix;
  std::string via;
};

struct RouterConfig {
  std::string ns;
  std::string element;
  std::string router_id;
  uint32_t asn = 0;
  std::string pref_src;  // kernel routes get this source address (site host)
  std::vector<StaticRoute> statics;
  std::vector<BgpNeighbor> neighbors;
};

struct LabPlan {
  std::string lab;  // lab name
  std::vector<Namespace> namespaces;
  std::vector<Link> links;
  std::vector<RouterConfig> routers;
};

// Prefix of every object of lab `lab`; names are "ll-<lab>-...".
std::string LabPrefix(const std::string& lab);
// InvalidArgument if `lab` is not [a-z0-9]{1,8}.
Status ValidateLabName(const std::string& lab);

// Builds the plan. InvalidArgument for what the lab cannot emulate (IPv6-only peering, a
// circuit link without a /30, more than 250 links).
Result<LabPlan> BuildLabPlan(const net::Topology& t, const std::string& lab);

}  // namespace lifeline::lab
