// The job steps behind recovery-plan actions: plan.script (runs a command with the plan's
// environment and a timeout that kills its process group), plan.manual (waits for
// `lifeline plan continue`), plan.network (a named network step from a registry). Each
// applies its action's on_failure policy: abort, continue or retry(N).
// Thread-safe once registered: the registries are only read while jobs run.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "control/jobs.h"
#include "control/network_driver.h"

namespace lifeline::control {

// A network step (connect a circuit, switch a route, ...) that plans name. The network
// model's `net plan` produces these names; their implementations register here.
struct NetworkStep {
  std::function<Status(StepContext& ctx, const std::map<std::string, std::string>& args)> run;
  std::function<Status(StepContext& ctx, const std::map<std::string, std::string>& args)>
      rollback;  // optional
  bool idempotent = false;
};

// Steps registered by name come first; any other name goes to the driver, if one is set.
class NetworkStepRegistry {
 public:
  Status Register(const std::string& name, NetworkStep step);
  const NetworkStep* Find(const std::string& name) const;
  // The registered names and the names the driver performs.
  std::set<std::string> Names() const;
  // Call before jobs run; the registry owns the driver.
  void SetDriver(std::unique_ptr<NetworkDriver> driver) { driver_ = std::move(driver); }
  NetworkDriver* driver() const { return driver_.get(); }

 private:
  std::map<std::string, NetworkStep> steps_;
  std::unique_ptr<NetworkDriver> driver_;
};

struct PlanStepOptions {
  const NetworkStepRegistry* network = nullptr;  // nullptr: every network step fails
  int64_t retry_backoff_ms = 1000;               // doubled per attempt, capped at 30 s
  int64_t kill_grace_ms = 2000;                  // SIGTERM to SIGKILL on a timeout
};

// Registers plan.script, plan.manual and plan.network. `options.network` must outlive the
// registry.
Status RegisterPlanSteps(StepRegistry* registry, const PlanStepOptions& options);

}  // namespace lifeline::control
