#include "control/nic_assign.h"

namespace lifeline::control {

Result<std::set<IpAddress>> AddressesInUse(Catalog* catalog, NetworkMode mode,
                                           int64_t except_machine_id) {
  std::set<IpAddress> in_use;
  LL_ASSIGN_OR_RETURN(std::vector<Instance> running, catalog->ListInstances(0, ""));
  for (const Instance& in : running) {
    if (in.machine_id == except_machine_id) continue;
    if ((in.operation == "drill") != (mode == NetworkMode::kDrill)) continue;
    size_t start = 0;
    while (start < in.ips.size()) {
      size_t end = in.ips.find(',', start);
      if (end == std::string::npos) end = in.ips.size();
      auto ip = IpAddress::Parse(in.ips.substr(start, end - start));
      if (ip.ok()) in_use.insert(*ip);
      start = end + 1;
    }
  }
  return in_use;
}

Result<std::vector<NicAssignment>> AssignNics(Catalog* catalog, const Machine& machine,
                                              NetworkMode mode) {
  if (machine.nics.empty()) return std::vector<NicAssignment>{};
  LL_ASSIGN_OR_RETURN(NetworkMap map, catalog->LoadNetworkMap());
  LL_ASSIGN_OR_RETURN(std::set<IpAddress> in_use, AddressesInUse(catalog, mode, machine.id));
  std::vector<NicRequest> requests;
  for (const Nic& n : machine.nics) {
    NicRequest r{machine.name, n.index, n.network, std::nullopt};
    if (!n.ip.empty()) {
      LL_ASSIGN_OR_RETURN(IpAddress ip, IpAddress::Parse(n.ip));
      r.source_ip = ip;
    }
    requests.push_back(std::move(r));
  }
  return map.Assign(mode, requests, in_use);
}

LaunchNic ToLaunchNic(const NicAssignment& a, const std::string& mac) {
  return LaunchNic{a.network, a.ip.ToString(), a.prefix_len,
                   a.gateway ? a.gateway->ToString() : "", mac};
}

std::string DescribeAssignment(const NicAssignment& a) {
  return a.machine + " NIC " + std::to_string(a.nic_index) + ": " + a.ip.ToString() + "/" +
         std::to_string(a.prefix_len) + " in " + a.network + " (" + a.reason + ")";
}

}  // namespace lifeline::control
