// What a recovery needs to know before it runs, behind the REST API: a machine's launcher,
// size and NICs, the network mapping (each source network's recovery and drill network) and
// static addresses, and a preview of the address every NIC would get now. JSON in and out;
// every request is checked field by field (unknown fields and wrong types are refused).
// Thread-safe as the catalog is.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "control/catalog.h"
#include "control/launcher.h"

namespace lifeline::vault {

// GET  /v1/machines/M/config → {machine, launcher, launcher_config, cpus, memory_mib, nics}
// POST /v1/machines/M/config  {launcher?, launcher_config?, cpus?, memory_mib?}: the given
//   fields change; the launcher and its config are checked by building the launcher.
Result<nlohmann::json> GetMachineConfig(control::Catalog* catalog, const std::string& machine);
Result<nlohmann::json> SetMachineConfig(control::Catalog* catalog,
                                        const control::LauncherRegistry& launchers,
                                        const std::string& machine, const nlohmann::json& request);

// POST   /v1/machines/M/nics     {index, network, ip?, mac?}: add or replace NIC `index`.
// DELETE /v1/machines/M/nics/N
Result<nlohmann::json> PutNic(control::Catalog* catalog, const std::string& machine,
                              const nlohmann::json& request);
Result<nlohmann::json> DeleteNic(control::Catalog* catalog, const std::string& machine,
                                 int index);

// GET    /v1/network/mappings
// POST   /v1/network/mappings {source, recovery: TARGET, drill: TARGET}, TARGET =
//        {network, subnet, gateway?, reserved?: [ip]}: add or replace by source.
// DELETE /v1/network/mappings/SOURCE
Result<nlohmann::json> ListNetworkMappings(control::Catalog* catalog);
Result<nlohmann::json> PutNetworkMapping(control::Catalog* catalog, const nlohmann::json& request);
Result<nlohmann::json> DeleteNetworkMapping(control::Catalog* catalog, const std::string& source);

// GET    /v1/network/static-ips[?machine=M]
// POST   /v1/network/static-ips {machine, nic, mode: recovery|drill, ip}
// DELETE /v1/network/static-ips/M/NIC/MODE
Result<nlohmann::json> ListStaticIps(control::Catalog* catalog, const std::string& machine);
Result<nlohmann::json> PutStaticIp(control::Catalog* catalog, const nlohmann::json& request);
Result<nlohmann::json> DeleteStaticIp(control::Catalog* catalog, const std::string& machine,
                                      int nic, const std::string& mode);

// GET /v1/machines/M/network?mode=recovery|drill → {machine, mode, nics: [{index,
//   source_network, source_ip, network, ip, prefix_len, gateway, reason}]}: what a failover
//   (recovery) or a drill would assign now; the error it would stop with otherwise.
Result<nlohmann::json> PreviewNics(control::Catalog* catalog, const std::string& machine,
                                   const std::string& mode);

}  // namespace lifeline::vault
