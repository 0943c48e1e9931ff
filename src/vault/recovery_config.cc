#include "vault/recovery_config.h"

#include <algorithm>

#include "control/nic_assign.h"
#include "vault/json_fields.h"

namespace lifeline::vault {
namespace {

using control::Catalog;
using control::IpAddress;
using nlohmann::json;

json NicJson(const control::Nic& n) {
  return {{"index", n.index}, {"network", n.network}, {"ip", n.ip}, {"mac", n.mac}};
}

json TargetJson(const control::TargetNetwork& t) {
  json reserved = json::array();
  for (const IpAddress& ip : t.reserved) reserved.push_back(ip.ToString());
  return {{"network", t.name},
          {"subnet", t.subnet.ToString()},
          {"gateway", t.gateway ? t.gateway->ToString() : ""},
          {"reserved", reserved}};
}

Result<control::TargetNetwork> ParseTarget(const json& request, const char* key) {
  if (!request.contains(key) || !request[key].is_object())
    return Status::InvalidArgument(std::string(key) + " must be an object {network, subnet, "
                                                      "gateway?, reserved?}");
  const json& t = request[key];
  LL_RETURN_IF_ERROR(
      CheckKnownFields(t, {"network", "subnet", "gateway", "reserved"}).WithContext(key));
  control::TargetNetwork out;
  LL_ASSIGN_OR_RETURN(out.name, StrField(t, "network", ""));
  if (out.name.empty()) return Status::InvalidArgument(std::string(key) + ".network is missing");
  LL_ASSIGN_OR_RETURN(std::string subnet, StrField(t, "subnet", ""));
  if (subnet.empty()) return Status::InvalidArgument(std::string(key) + ".subnet is missing");
  LL_ASSIGN_OR_RETURN(out.subnet, control::Cidr::Parse(subnet));
  LL_ASSIGN_OR_RETURN(std::string gateway, StrField(t, "gateway", ""));
  if (!gateway.empty()) {
    LL_ASSIGN_OR_RETURN(IpAddress gw, IpAddress::Parse(gateway));
    out.gateway = gw;
  }
  if (t.contains("reserved")) {
    if (!t["reserved"].is_array())
      return Status::InvalidArgument(std::string(key) + ".reserved must be a list of addresses");
    if (t["reserved"].size() > static_cast<size_t>(control::kMaxReservedPerNetwork))
      return Status::InvalidArgument(std::string(key) + ".reserved holds more than " +
                                     std::to_string(control::kMaxReservedPerNetwork) +
                                     " addresses");
    for (const json& r : t["reserved"]) {
      if (!r.is_string())
        return Status::InvalidArgument(std::string(key) + ".reserved must hold strings");
      LL_ASSIGN_OR_RETURN(IpAddress ip, IpAddress::Parse(r.get<std::string>()));
      out.reserved.insert(ip);
    }
  }
  return out;
}

json RuleJson(const control::StaticIpRule& r) {
  return {{"machine", r.machine},
          {"nic", r.nic_index},
          {"mode", std::string(control::NetworkModeName(r.mode))},
          {"ip", r.ip.ToString()}};
}

}  // namespace

Result<json> GetMachineConfig(Catalog* catalog, const std::string& machine) {
  LL_ASSIGN_OR_RETURN(control::Machine m, catalog->GetMachineByName(machine));
  json config = json::parse(m.launcher_config, nullptr, false);
  if (!config.is_object()) config = json::object();
  json nics = json::array();
  for (const auto& n : m.nics) nics.push_back(NicJson(n));
  return json{{"machine", m.name},     {"launcher", m.launcher},     {"launcher_config", config},
              {"cpus", m.cpus},        {"memory_mib", m.memory_mib}, {"nics", nics}};
}

Result<json> SetMachineConfig(Catalog* catalog, const control::LauncherRegistry& launchers,
                              const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(
      CheckKnownFields(request, {"launcher", "launcher_config", "cpus", "memory_mib"}));
  LL_ASSIGN_OR_RETURN(control::Machine m, catalog->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(m.launcher, StrField(request, "launcher", m.launcher));
  json config = json::parse(m.launcher_config, nullptr, false);
  if (request.is_object() && request.contains("launcher_config")) {
    config = request["launcher_config"];
    if (!config.is_object())
      return Status::InvalidArgument("launcher_config must be a JSON object");
  } else if (request.is_object() && request.contains("launcher")) {
    // A new launcher with no config of its own starts from its defaults.
    config = json::object();
  }
  if (!config.is_object()) config = json::object();
  // Building the launcher checks the name and every setting of its config.
  LL_RETURN_IF_ERROR(
      launchers.Create(m.launcher, config).status().WithContext("machine " + machine));
  m.launcher_config = config.dump();
  LL_ASSIGN_OR_RETURN(int64_t cpus, IntField(request, "cpus", m.cpus, 1, 256));
  LL_ASSIGN_OR_RETURN(int64_t memory, IntField(request, "memory_mib", m.memory_mib, 16,
                                               int64_t{16} * 1024 * 1024));
  m.cpus = static_cast<int>(cpus);
  m.memory_mib = static_cast<int>(memory);
  LL_RETURN_IF_ERROR(catalog->UpdateMachineConfig(m));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "machine.config", "machine/" + machine,
                                    "launcher " + m.launcher + ", " + std::to_string(m.cpus) +
                                        " cpus, " + std::to_string(m.memory_mib) + " MiB"));
  return GetMachineConfig(catalog, machine);
}

Result<json> PutNic(Catalog* catalog, const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckKnownFields(request, {"index", "network", "ip", "mac"}));
  LL_ASSIGN_OR_RETURN(control::Machine m, catalog->GetMachineByName(machine));
  if (!request.is_object() || !request.contains("index"))
    return Status::InvalidArgument("index is missing (0..15)");
  LL_ASSIGN_OR_RETURN(int64_t index,
                      IntField(request, "index", 0, 0, control::kMaxNicsPerMachine - 1));
  control::Nic nic;
  nic.index = static_cast<int>(index);
  LL_ASSIGN_OR_RETURN(nic.network, StrField(request, "network", ""));
  if (nic.network.empty()) return Status::InvalidArgument("network is missing");
  LL_ASSIGN_OR_RETURN(nic.ip, StrField(request, "ip", ""));
  LL_ASSIGN_OR_RETURN(nic.mac, StrField(request, "mac", ""));
  bool replaced = false;
  for (auto& n : m.nics) {
    if (n.index == nic.index) {
      n = nic;
      replaced = true;
    }
  }
  if (!replaced) m.nics.push_back(nic);
  std::sort(m.nics.begin(), m.nics.end(),
            [](const control::Nic& a, const control::Nic& b) { return a.index < b.index; });
  LL_RETURN_IF_ERROR(catalog->UpdateMachineConfig(m));
  LL_RETURN_IF_ERROR(catalog->Audit(
      "api", "machine.nic", "machine/" + machine,
      "NIC " + std::to_string(nic.index) + " on " + nic.network +
          (nic.ip.empty() ? " (DHCP)" : " with " + nic.ip)));
  return GetMachineConfig(catalog, machine);
}

Result<json> DeleteNic(Catalog* catalog, const std::string& machine, int index) {
  LL_ASSIGN_OR_RETURN(control::Machine m, catalog->GetMachineByName(machine));
  size_t before = m.nics.size();
  std::erase_if(m.nics, [index](const control::Nic& n) { return n.index == index; });
  if (m.nics.size() == before)
    return Status::NotFound("machine " + machine + " has no NIC " + std::to_string(index));
  LL_RETURN_IF_ERROR(catalog->UpdateMachineConfig(m));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "machine.nic", "machine/" + machine,
                                    "NIC " + std::to_string(index) + " removed"));
  return GetMachineConfig(catalog, machine);
}

Result<json> ListNetworkMappings(Catalog* catalog) {
  LL_ASSIGN_OR_RETURN(auto mappings, catalog->ListNetworkMappings());
  json out = json::array();
  for (const auto& m : mappings)
    out.push_back(
        {{"source", m.source}, {"recovery", TargetJson(m.recovery)}, {"drill", TargetJson(m.drill)}});
  return out;
}

Result<json> PutNetworkMapping(Catalog* catalog, const json& request) {
  LL_RETURN_IF_ERROR(CheckKnownFields(request, {"source", "recovery", "drill"}));
  if (!request.is_object()) return Status::InvalidArgument("the request must be a JSON object");
  control::NetworkMapping m;
  LL_ASSIGN_OR_RETURN(m.source, StrField(request, "source", ""));
  if (m.source.empty()) return Status::InvalidArgument("source is missing");
  LL_ASSIGN_OR_RETURN(m.recovery, ParseTarget(request, "recovery"));
  LL_ASSIGN_OR_RETURN(m.drill, ParseTarget(request, "drill"));
  LL_RETURN_IF_ERROR(catalog->PutNetworkMapping(m));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "network.map", "network/" + m.source,
                                    "recovery " + m.recovery.name + " " +
                                        m.recovery.subnet.ToString() + ", drill " + m.drill.name +
                                        " " + m.drill.subnet.ToString()));
  return json{{"source", m.source}, {"recovery", TargetJson(m.recovery)}, {"drill", TargetJson(m.drill)}};
}

Result<json> DeleteNetworkMapping(Catalog* catalog, const std::string& source) {
  LL_RETURN_IF_ERROR(catalog->DeleteNetworkMapping(source));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "network.unmap", "network/" + source, ""));
  return json{{"source", source}, {"removed", true}};
}

Result<json> ListStaticIps(Catalog* catalog, const std::string& machine) {
  if (!machine.empty()) LL_RETURN_IF_ERROR(catalog->GetMachineByName(machine).status());
  LL_ASSIGN_OR_RETURN(auto rules, catalog->ListStaticIps(machine));
  json out = json::array();
  for (const auto& r : rules) out.push_back(RuleJson(r));
  return out;
}

Result<json> PutStaticIp(Catalog* catalog, const json& request) {
  LL_RETURN_IF_ERROR(CheckKnownFields(request, {"machine", "nic", "mode", "ip"}));
  control::StaticIpRule rule;
  LL_ASSIGN_OR_RETURN(rule.machine, StrField(request, "machine", ""));
  if (rule.machine.empty()) return Status::InvalidArgument("machine is missing");
  LL_ASSIGN_OR_RETURN(int64_t nic, IntField(request, "nic", 0, 0, control::kMaxNicsPerMachine - 1));
  rule.nic_index = static_cast<int>(nic);
  LL_ASSIGN_OR_RETURN(std::string mode, StrField(request, "mode", "recovery"));
  LL_ASSIGN_OR_RETURN(rule.mode, control::ParseNetworkMode(mode));
  LL_ASSIGN_OR_RETURN(std::string ip, StrField(request, "ip", ""));
  if (ip.empty()) return Status::InvalidArgument("ip is missing");
  LL_ASSIGN_OR_RETURN(rule.ip, IpAddress::Parse(ip));
  LL_RETURN_IF_ERROR(catalog->PutStaticIp(rule));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "network.static", "machine/" + rule.machine,
                                    "NIC " + std::to_string(rule.nic_index) + " " + mode + " " +
                                        rule.ip.ToString()));
  return RuleJson(rule);
}

Result<json> DeleteStaticIp(Catalog* catalog, const std::string& machine, int nic,
                            const std::string& mode_name) {
  LL_ASSIGN_OR_RETURN(auto mode, control::ParseNetworkMode(mode_name));
  LL_RETURN_IF_ERROR(catalog->DeleteStaticIp(machine, nic, mode));
  LL_RETURN_IF_ERROR(catalog->Audit("api", "network.static", "machine/" + machine,
                                    "NIC " + std::to_string(nic) + " " + mode_name + " removed"));
  return json{{"machine", machine}, {"nic", nic}, {"mode", mode_name}, {"removed", true}};
}

Result<json> PreviewNics(Catalog* catalog, const std::string& machine,
                         const std::string& mode_name) {
  LL_ASSIGN_OR_RETURN(auto mode, control::ParseNetworkMode(mode_name));
  LL_ASSIGN_OR_RETURN(control::Machine m, catalog->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(auto assigned, control::AssignNics(catalog, m, mode));
  json nics = json::array();
  for (size_t i = 0; i < assigned.size(); ++i) {
    const auto& a = assigned[i];
    nics.push_back({{"index", a.nic_index},
                    {"source_network", m.nics[i].network},
                    {"source_ip", m.nics[i].ip},
                    {"network", a.network},
                    {"ip", a.ip.ToString()},
                    {"prefix_len", a.prefix_len},
                    {"gateway", a.gateway ? a.gateway->ToString() : ""},
                    {"reason", a.reason}});
  }
  return json{{"machine", machine}, {"mode", mode_name}, {"nics", nics}};
}

}  // namespace lifeline::vault
