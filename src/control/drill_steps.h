// Drill steps: start recovered copies of protected machines from a recovery point in the
// drill network, without touching replication, and clean them up afterwards. They join
// the catalog (with its network mapping), the lifecycle and launchers; the replica store comes in
// through DiskExporter. Used by `drill` jobs and by plan jobs with operation drill.
// Thread-safe once registered: the dependencies must be thread-safe and outlive the registry.
#pragma once

#include <string>
#include <vector>

#include "control/catalog.h"
#include "control/jobs.h"
#include "control/launcher.h"
#include "control/lifecycle.h"
#include "control/netmap.h"

namespace lifeline::control {

// A bootable view of a disk at a recovery point. For a drill the vault exports the point
// over NBD with a copy-on-write overlay, so the replica is never written (invariant 6).
class DiskExporter {
 public:
  virtual ~DiskExporter() = default;
  // `point`: a point id, or a choice such as "latest-processed".
  virtual Result<LaunchDisk> Export(const Machine& machine, const Disk& disk,
                                    const std::string& point) = 0;
  // Removes the export and its overlay; harmless if there is none.
  virtual Status Unexport(const Machine& machine, const Disk& disk) = 0;
};

struct DrillDeps {
  Catalog* catalog = nullptr;
  Lifecycle* lifecycle = nullptr;
  DiskExporter* exporter = nullptr;
  const LauncherRegistry* launchers = nullptr;
  std::string work_dir;  // launcher logs
  std::string actor = "vault";
  int64_t stop_grace_ms = 5000;
};

// Registers drill.prepare (checks), drill.start-group (start, undone by its rollback) and
// drill.cleanup (stop, unexport, tag the point, end the drill).
Status RegisterDrillSteps(StepRegistry* registry, const DrillDeps& deps);

// A drill of `machines` started together (one group), and its cleanup.
JobSpec DrillJob(const std::vector<std::string>& machines, const std::string& point);
JobSpec DrillCleanupJob(const std::vector<std::string>& machines, const std::string& note);

}  // namespace lifeline::control
