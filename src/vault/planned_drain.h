// The drain of a planned failover (job step `failover.drain`): the vault asks the machine's
// agent to drain every disk (a request in the agent's assignments), waits for its "drained
// at seq N" on every disk and for the replica to hold N durably, then takes the final point
// at exactly N. Thread-safe as the other recovery steps (recovery_steps.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "control/jobs.h"
#include "vault/recovery_steps.h"

namespace lifeline::vault {

// Factory of `failover.drain` (args: machine, drain_cycles).
control::StepFactory DrainStepFactory(const RecoveryDeps& deps);

// Removes the machine's drain request from its capture config, so its agent lifts the fence
// and the source may run again (cancel, commit, a failed failover). Nothing to do without one.
Status ClearDrainRequest(const RecoveryDeps& d, control::StepContext& ctx,
                         const std::string& machine);

}  // namespace lifeline::vault
