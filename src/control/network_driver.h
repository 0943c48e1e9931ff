// Network drivers: what performs the `network:` actions of recovery plans when no step of
// that name is registered one by one. The vault picks one driver from its configuration
// (`vault run --network-driver command:PATH|lab:NAME`). CommandNetworkDriver runs an
// operator's program for any step name. Thread-safe: Run may be called from several job
// threads at once; drivers hold only immutable configuration.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "control/jobs.h"

namespace lifeline::control {

// One network action as a plan job runs it.
struct NetworkCall {
  std::string step;                          // e.g. disconnect-connection (from `net plan`)
  std::map<std::string, std::string> args;   // the action's args
  std::string plan, operation, group, action, side;
  int64_t job_id = 0;
  int attempt = 1;
};

class NetworkDriver {
 public:
  virtual ~NetworkDriver() = default;
  virtual std::string name() const = 0;  // "command", "lab"
  // The step names it performs; empty means any name.
  virtual std::set<std::string> Steps() const = 0;
  // Performs one step. A step it cannot perform is FailedPrecondition naming the driver and
  // the step; the action's on_failure then applies.
  virtual Status Run(StepContext& ctx, const NetworkCall& call) = 0;
};

// The `command` driver: runs `path STEP` for every step, in its own process group with stdin
// from /dev/null, its output lines in the job log (at most 1,000 per attempt) and this
// environment: LIFELINE_NET_STEP, LIFELINE_NET_ARG_<KEY> per argument (the key upper-cased,
// other characters than letters and digits as '_'), LIFELINE_PLAN, LIFELINE_OPERATION,
// LIFELINE_GROUP, LIFELINE_ACTION, LIFELINE_SIDE, LIFELINE_JOB_ID, LIFELINE_ATTEMPT. Exit code
// 0 is success. The timeout is the argument `timeout_s` (1..86400) or `timeout_ms` below;
// on expiry the group gets SIGTERM, then SIGKILL after `kill_grace_ms`.
struct CommandDriverOptions {
  std::string path;
  int64_t timeout_ms = 300000;
  int64_t kill_grace_ms = 2000;
};
std::unique_ptr<NetworkDriver> MakeCommandNetworkDriver(CommandDriverOptions options);

// The environment variable name of a step argument: LIFELINE_NET_ARG_<KEY>.
std::string NetworkArgEnvName(const std::string& key);

}  // namespace lifeline::control
