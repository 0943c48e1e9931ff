// Recovery plans: a strict YAML parser (unknown keys, wrong types and limits reported with
// file:line:column and a "did you mean"), validation against the limits operators know
// from Site Recovery, and the translation of a plan into job steps for a drill, failover
// or failback. Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "control/catalog.h"
#include "control/jobs.h"

namespace lifeline::control {

// Limits. Groups and machines follow Azure Site Recovery's recovery plans (at most 7
// groups, 100 protected machines per plan; docs recovery-plan-overview.md and
// azure-to-azure-common-questions.md, see docs/recovery.md); the others are our bounds.
inline constexpr int kMaxPlanGroups = 7;
inline constexpr int kMaxPlanMachines = 100;
inline constexpr int kMaxActionsPerSide = 20;  // before or after one group
inline constexpr int64_t kMaxScriptTimeoutSeconds = 24 * 3600;
inline constexpr int64_t kDefaultScriptTimeoutSeconds = 600;
inline constexpr int64_t kMaxManualTimeoutSeconds = 7 * 24 * 3600;
inline constexpr int kMaxRetries = 10;
inline constexpr int kMaxEnvVars = 64;
inline constexpr int kMaxPlanIssues = 50;

enum class Operation : uint8_t { kDrill, kFailover, kFailback };
std::string_view OperationName(Operation op);
Result<Operation> ParseOperation(std::string_view name);

enum class ActionKind : uint8_t { kScript, kManual, kNetwork };
std::string_view ActionKindName(ActionKind kind);

enum class FailurePolicy : uint8_t { kAbort, kContinue, kRetry };

struct OnFailure {
  FailurePolicy policy = FailurePolicy::kAbort;
  int retries = 0;               // kRetry: extra attempts, 1..10
  std::string ToString() const;  // "abort", "continue", "retry(3)"
};

struct ScriptAction {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  int64_t timeout_seconds = kDefaultScriptTimeoutSeconds;
  bool idempotent = false;  // may run again after a vault restart interrupted it
};

struct ManualAction {
  std::string message;
  int64_t timeout_seconds = 0;  // 0: wait until continued or cancelled
};

struct NetworkAction {
  std::string step;  // a name in the NetworkStepRegistry
  std::map<std::string, std::string> args;
};

struct Action {
  std::string name;
  ActionKind kind = ActionKind::kScript;
  ScriptAction script;
  ManualAction manual;
  NetworkAction network;
  OnFailure on_failure;
  std::set<Operation> operations;  // empty: every operation
  int line = 0;                    // 1-based, for messages
  bool RunsFor(Operation op) const { return operations.empty() || operations.count(op) > 0; }
};

struct PlanGroup {
  std::string name;
  std::vector<std::string> machines;
  std::vector<Action> before;
  std::vector<Action> after;
  int line = 0;
};

struct Plan {
  std::string name;
  std::string description;
  std::vector<PlanGroup> groups;
  std::string source;                         // file name used in messages
  std::vector<std::string> Machines() const;  // in group order
};

struct PlanIssue {
  int line = 0;  // 1-based; 0 when the issue concerns the whole file
  int column = 0;
  std::string message;
};

struct PlanParseResult {
  std::optional<Plan> plan;       // set only when there are no issues
  std::vector<PlanIssue> issues;  // at most kMaxPlanIssues
  // "plan.yaml:12:7: unknown key 'timout_s' in script (did you mean 'timeout_s'?)", one a line.
  std::string IssuesText(const std::string& source) const;
};

// Parses and checks a plan's shape and limits. Never throws, whatever the input.
PlanParseResult ParsePlanYaml(std::string_view yaml, const std::string& source);
// The same, as a Result: InvalidArgument carrying every issue, one a line.
Result<Plan> ParsePlan(std::string_view yaml, const std::string& source);

// Checks against the world: machines that exist (if `known_machines` is given) and network
// steps that are registered (if `network_steps` is given).
struct PlanContext {
  const std::set<std::string>* known_machines = nullptr;
  const std::set<std::string>* network_steps = nullptr;
};
std::vector<PlanIssue> CheckPlanReferences(const Plan& plan, const PlanContext& context);

nlohmann::json PlanToJson(const Plan& plan);

// Edit distance, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or "".
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

// Names of the machine steps a plan job uses; the drill/failover code registers them.
struct PlanJobOptions {
  // "{op}" is replaced by drill, failover or failback.
  std::string shutdown_step = "{op}.shutdown";  // failover/failback only (skipped for drills)
  std::string prepare_step = "{op}.prepare";    // all machines' disks, in parallel
  std::string start_group_step = "{op}.start-group";
  std::string point;  // recovery point choice passed to machine steps, e.g. "latest-processed"
};

// The plan as a job: shutdown (not for drills), prepare, then group by group the before
// actions, the group's start, the after actions. Plan jobs do not roll back on failure
// (a half-recovered site is better than none); each action's on_failure decides.
Result<JobSpec> BuildPlanJob(const Plan& plan, Operation op, const PlanJobOptions& options = {});

// Parses, checks and stores a plan in the catalog (its YAML and parsed form), replacing a
// plan of the same name. InvalidArgument with every issue when it does not parse, or when
// `context` finds unknown machines or network steps.
Result<Plan> SavePlan(Catalog* catalog, std::string_view yaml, const std::string& source,
                      const PlanContext& context = {});
// Reads a stored plan back (parsed again from its YAML, so the checks of this version apply).
Result<Plan> LoadPlan(Catalog* catalog, const std::string& name);

}  // namespace lifeline::control
