// RecoveryOps: the vault's recovery operations behind the REST API — drill start/cleanup,
// failover start (unplanned from a chosen point, or planned: wait for the source to drain
// and take a final point), change-point, cancel, commit, re-protect and failback — each run as a
// job of named steps in the catalog, with the lifecycle transitions and the "tested at" tag of
// drills. Thread-safe: API handlers call in concurrently; state lives in the catalog and the jobs.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "control/catalog.h"
#include "control/jobs.h"
#include "control/launcher.h"
#include "control/lifecycle.h"
#include "control/plan_steps.h"
#include "store/replica_store.h"
#include "vault/point_export.h"

namespace lifeline::vault {

struct RecoveryOptions {
  std::string dir;  // the vault directory: DIR/recovery holds overlays, images, logs
  int64_t job_timeout_ms = 120000;  // how long an API call waits for its job
  int64_t stop_grace_ms = 5000;
  // Planned failover: the source is drained once no write arrived for this long.
  int64_t drain_quiet_ms = 2000;
  int64_t drain_timeout_ms = 60000;
  std::string actor = "vault";
  // Point messages received per disk (a capture cycle's end, even when the store already
  // has that point); lets a planned failover see an idle source's cycle. Optional.
  std::function<uint64_t(const std::string& disk_id)> points_received;
  // The agent's latest report of a disk (null: none yet). A planned failover reads the
  // agent's answer to its drain request there ("drain": {request, state, seq}). Without it
  // the drain is inferred from the replica (planned_drain.h).
  std::function<nlohmann::json(const std::string& disk_id)> agent_report;
  // Performs the network actions of recovery plans: "" (none: they fail), "command:PATH" or
  // "lab:NAME[:STATE_DIR]" (network_drivers.h).
  std::string network_driver;
};

class RecoveryOps {
 public:
  // REQUIRES: `store` and `catalog` outlive the object. Starts a job runner over the catalog.
  static Result<std::unique_ptr<RecoveryOps>> Create(store::ReplicaStore* store,
                                                     control::Catalog* catalog,
                                                     RecoveryOptions options);
  ~RecoveryOps();

  // Requests (JSON bodies of the API):
  //   drill start     {"point": CHOICE, "launcher_command": CMD?}
  //   drill cleanup   {"note": TEXT?}
  //   failover start  {"point": CHOICE, "planned": bool, "mode": "export"|"materialize",
  //   "launcher_command": CMD?} change-point    {"point": CHOICE}
  // CHOICE as in ResolvePoint (point_export.h). Every answer names the job and its state.
  Result<nlohmann::json> DrillStart(const std::string& machine, const nlohmann::json& request);
  Result<nlohmann::json> DrillCleanup(const std::string& machine, const nlohmann::json& request);
  Result<nlohmann::json> FailoverStart(const std::string& machine, const nlohmann::json& request);
  Result<nlohmann::json> FailoverChangePoint(const std::string& machine,
                                             const nlohmann::json& request);
  Result<nlohmann::json> FailoverCancel(const std::string& machine);
  Result<nlohmann::json> FailoverCommit(const std::string& machine);
  // After commit: sync the original disks from the failed-over ones ({"targets": {disk id:
  // path}}, default: each disk's catalog path), delta when they still exist; the direction
  // becomes reverse. Then Failback brings the machine home (direction forward again).
  Result<nlohmann::json> Reprotect(const std::string& machine, const nlohmann::json& request);
  Result<nlohmann::json> Failback(const std::string& machine, const nlohmann::json& request);
  // Runs a stored recovery plan ({"operation": "drill"|"failover"|"failback", "point"}) as
  // a plan job (plan.h BuildPlanJob); manual steps wait for `lifeline plan continue`.
  Result<nlohmann::json> PlanRun(const std::string& plan, const nlohmann::json& request);
  // What a machine's recovery currently serves: exports, images, running copies.
  Result<nlohmann::json> Recovery(const std::string& machine);
  // Before a machine is deleted: stops its drill and failover copies, removes its exports
  // and DIR/recovery/MACHINE. Returns what it did (one line each).
  Result<std::vector<std::string>> ReleaseMachine(const control::Machine& machine);

  PointExports* exports() { return exports_.get(); }
  control::JobRunner* runner() { return runner_.get(); }
  const control::LauncherRegistry& launchers() const { return launchers_; }

 private:
  RecoveryOps(store::ReplicaStore* store, control::Catalog* catalog, RecoveryOptions options);
  Status RegisterFailoverSteps();
  Status ApplyLauncherOverride(const std::string& machine, const nlohmann::json& request);
  Result<nlohmann::json> RunJob(const control::JobSpec& spec);

  store::ReplicaStore* store_;
  control::Catalog* catalog_;
  const RecoveryOptions options_;
  control::Lifecycle lifecycle_;
  control::LauncherRegistry launchers_;
  std::unique_ptr<PointExports> exports_;
  std::unique_ptr<control::DiskExporter> drill_exporter_;
  std::unique_ptr<control::DiskExporter> failover_exporter_;
  control::StepRegistry registry_;
  control::NetworkStepRegistry network_steps_;  // plan network actions, through the driver
  std::unique_ptr<control::JobRunner> runner_;
};

}  // namespace lifeline::vault
