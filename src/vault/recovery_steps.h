// The job steps of failover, change-point, cancel, commit, re-protect and failback, and of
// failover/failback recovery plans, as RecoveryOps registers them. Steps keep their state in
// the catalog (lifecycle, instances) and in DIR/recovery/MACHINE/failover.json.
// Thread-safe once registered: the dependencies must be thread-safe and outlive the registry.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "control/jobs.h"
#include "vault/recovery_ops.h"

namespace lifeline::vault {

// Everything the recovery steps share.
struct RecoveryDeps {
  store::ReplicaStore* store;
  control::Catalog* catalog;
  control::Lifecycle* lifecycle;
  control::DiskExporter* exporter;  // failover exports
  const control::LauncherRegistry* launchers;
  RecoveryOptions options;
  PointExports* exports;
};

// failover.{drain,recover,stop,commit}, reprotect.sync, failback.sync and the plan steps
// {failover,failback}.{shutdown,prepare,start-group}.
Status RegisterRecoverySteps(control::StepRegistry* registry, const RecoveryDeps& deps);

// DIR/recovery/MACHINE and its failover record.
std::string RecoveryDir(const RecoveryOptions& options, const std::string& machine);
std::string FailoverFile(const RecoveryOptions& options, const std::string& machine);
Result<nlohmann::json> ReadJsonFile(const std::string& path);
Status WriteJsonFile(const std::string& path, const nlohmann::json& j);

// Stops the machine's running failover copies (SIGTERM, SIGKILL after the grace period) and
// forgets them; StopFailover also removes the machine's failover exports and images.
Status StopInstances(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m);
Status StopFailover(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m);

// The machine's capture settings as a JSON object (empty when unset or unreadable).
nlohmann::json CaptureConfigOf(const control::Machine& m);

// After a failback wrote the original disks, an nbd-mode agent cannot know which blocks
// changed (it sees only the writes it serves): a new `resync_epoch` in the machine's capture
// config makes it compare every block's hash with the replica and send the blocks that
// differ. Scan-mode machines need nothing (their next scan compares block hashes).
Status RequestWholeDiskResync(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m);

}  // namespace lifeline::vault
