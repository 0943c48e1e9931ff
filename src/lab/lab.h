// `lifeline lab`: brings a topology up on this host (namespaces, veth, tc, BIRD), reads it
// back, injects failures and tears it down. State lives in /run/lifeline/lab/<name>.json so
// `down` removes exactly what `up` made. Needs root. Not thread-safe; one command at a time
// per lab (the state file is rewritten after every step).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "lab/lab_plan.h"
#include "net/model.h"

namespace lifeline::lab {

inline constexpr const char* kDefaultStateDir = "/run/lifeline/lab";

struct LabOptions {
  std::string name = "lab";
  std::string state_dir = kDefaultStateDir;
};

// FailedPrecondition naming what is missing: root, ip, tc, nft, bird, birdc.
Status CheckPrerequisites();

// Creates the lab. Refuses (FailedPrecondition) when the lab's state file exists or any
// namespace with the lab's prefix exists that it did not make. On failure, removes what it
// made before returning.
Status LabUp(const std::string& topology_file, const LabOptions& o);
// Removes everything the state file lists (processes, namespaces, files). NotFound if no lab.
Status LabDown(const LabOptions& o);
// Sessions, BFD and routes read from the routers, compared with `net routes`.
Result<nlohmann::json> LabStatus(const LabOptions& o);

enum class FailMode { kDown, kSilent };
// Element: circuit link "er-hk/primary", circuit, peering location, site router, VPN name.
Status LabFail(const LabOptions& o, const std::string& element, FailMode mode);
// Undoes a failure; element "" heals everything.
Status LabHeal(const LabOptions& o, const std::string& element);
// Waits until every BGP session of the lab is Established (or the timeout passes).
Status LabWaitEstablished(const LabOptions& o, double timeout_s);

// Namespace names of the lab (from its state), for tests and probes.
Result<nlohmann::json> LoadLabState(const LabOptions& o);
// The namespace and host address of a site host or VNet element.
Result<std::pair<std::string, std::string>> LabEndpoint(const LabOptions& o,
                                                        const std::string& element);

}  // namespace lifeline::lab
