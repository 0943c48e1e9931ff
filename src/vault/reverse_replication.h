// Continuous re-protect and failback: after a committed failover the recovery site's agent
// protects the recovered disks to a vault at the primary site (seeded from the original
// disks, so the first sync sends only blocks whose hashes differ), and failback is a planned
// failover at that vault written into the original disks. The recovery vault drives the peer
// vault over its REST API. Thread-safe: stateless functions over thread-safe dependencies.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "control/jobs.h"
#include "store/disk_replica.h"
#include "vault/recovery_steps.h"

namespace lifeline::vault {

// DIR/recovery/MACHINE/reverse.json: where the reverse replica lives (peer vault URL, its CA
// file, an admin token for it, the agent at the recovery site, the policy). Mode 0600: it
// holds a token, which therefore never goes into job arguments or the catalog.
std::string ReverseFile(const RecoveryOptions& options, const std::string& machine);

// Checks a request's "reverse" object and returns the configuration to store (known fields
// only); pure, so any input gives a configuration or InvalidArgument.
Result<nlohmann::json> ParseReverseConfig(const nlohmann::json& reverse);

// Checks a request's "reverse" object ({"vault", "ca", "token", "agent", "policy"?,
// "interval_s"?, "timeout_s"?}) and stores it for the re-protect job.
Status SaveReverseConfig(const RecoveryOptions& options, const std::string& machine,
                         const nlohmann::json& reverse);
bool HasReverseConfig(const RecoveryOptions& options, const std::string& machine);

// The re-protect step's body when a reverse configuration exists: committed ->
// re-protecting, the machine protected at the peer vault from the recovered disk images
// (seeded from the original disks), wait until its first sync is done, -> protected with
// direction reverse. Returns the per-disk figures of the first sync.
Result<nlohmann::json> RunReverseReprotect(const RecoveryDeps& d, control::StepContext& ctx,
                                           const std::string& machine);

// The failback step's body with a reverse replica: the recovered copy is stopped, the peer
// vault runs a planned failover (drain, final point) written into the original disks and
// commits it, the recovery site's copy is removed, and the machine goes back to protected
// with direction forward. Returns the peer's per-disk figures.
Result<nlohmann::json> RunReverseFailback(const RecoveryDeps& d, control::StepContext& ctx,
                                          const std::string& machine);

// Writes the replica's state at `seq` into `target` (an original disk): when it exists with
// the same size only 64 KiB blocks whose xxh3 differ are written, else the whole disk is
// (zero blocks left as holes). Returns {mode, blocks, blocks_sent, bytes_sent}.
Result<nlohmann::json> WritePointInto(const store::DiskReplica& replica, uint64_t seq,
                                      const std::string& target, control::StepContext& ctx);

}  // namespace lifeline::vault
