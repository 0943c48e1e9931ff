#include "control/plan_steps.h"

#include <algorithm>

#include "control/plan.h"
#include "control/process.h"

namespace lifeline::control {
namespace {

using Json = nlohmann::json;

struct ActionArgs {
  std::string plan, group, operation, name, side;
  std::vector<std::string> machines;
  Json action;
  OnFailure on_failure;
};

Result<ActionArgs> ReadArgs(const Json& args) {
  if (!args.is_object() || !args.contains("action") || !args["action"].is_object()) {
    return Status::InvalidArgument("plan step without an action");
  }
  ActionArgs a;
  a.plan = args.value("plan", "");
  a.group = args.value("group", "");
  a.operation = args.value("operation", "");
  a.side = args.value("side", "");
  a.action = args["action"];
  a.name = a.action.value("name", "");
  if (args.contains("machines") && args["machines"].is_array()) {
    for (const Json& m : args["machines"]) {
      if (m.is_string()) a.machines.push_back(m.get<std::string>());
    }
  }
  std::string policy = a.action.value("on_failure", "abort");
  if (policy == "continue") {
    a.on_failure.policy = FailurePolicy::kContinue;
  } else if (policy.rfind("retry(", 0) == 0 && policy.size() > 7) {
    a.on_failure.policy = FailurePolicy::kRetry;
    a.on_failure.retries = std::clamp(std::atoi(policy.c_str() + 6), 1, kMaxRetries);
  }
  return a;
}

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

// Runs `attempt` under the action's on_failure policy.
Status WithPolicy(StepContext& ctx, const ActionArgs& a, const PlanStepOptions& options,
                  const std::function<Status(int attempt)>& attempt) {
  int attempts = a.on_failure.policy == FailurePolicy::kRetry ? 1 + a.on_failure.retries : 1;
  Status last;
  int64_t backoff = options.retry_backoff_ms;
  for (int i = 1; i <= attempts; ++i) {
    last = attempt(i);
    if (last.ok()) return last;
    if (ctx.ShouldStop()) return last;  // stop or cancel: no retry, no "continue"
    if (i < attempts) {
      ctx.Warn("action '" + a.name + "' attempt " + std::to_string(i) + " of " +
               std::to_string(attempts) + " failed: " + last.message() + "; retrying in " +
               std::to_string(backoff) + " ms");
      if (!ctx.SleepMs(backoff)) return last;
      backoff = std::min<int64_t>(backoff * 2, 30000);
    }
  }
  if (a.on_failure.policy == FailurePolicy::kContinue) {
    ctx.Warn("action '" + a.name + "' failed: " + last.message() +
             "; on_failure is continue, so the plan goes on");
    return Status::Ok();
  }
  return last.WithContext("action '" + a.name + "'");
}

class ScriptStep final : public Step {
 public:
  ScriptStep(ActionArgs a, PlanStepOptions o) : a_(std::move(a)), o_(o) {}
  bool Resumable() const override { return a_.action["script"].value("idempotent", false); }

  Status Run(StepContext& ctx) override {
    const Json& s = a_.action["script"];
    ProcessSpec spec;
    spec.argv.push_back(s.value("path", ""));
    if (s.contains("args")) {
      for (const Json& arg : s["args"])
        spec.argv.push_back(arg.is_string() ? arg.get<std::string>() : arg.dump());
    }
    if (s.contains("env")) {
      for (const auto& [k, v] : s["env"].items())
        spec.env.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
    spec.env.emplace_back("LIFELINE_PLAN", a_.plan);
    spec.env.emplace_back("LIFELINE_GROUP", a_.group);
    spec.env.emplace_back("LIFELINE_OPERATION", a_.operation);
    spec.env.emplace_back("LIFELINE_ACTION", a_.name);
    spec.env.emplace_back("LIFELINE_SIDE", a_.side);
    spec.env.emplace_back("LIFELINE_JOB_ID", std::to_string(ctx.job_id()));
    spec.env.emplace_back("LIFELINE_MACHINES", Join(a_.machines, ','));
    int64_t timeout_ms = s.value("timeout_s", kDefaultScriptTimeoutSeconds) * 1000;
    return WithPolicy(ctx, a_, o_, [&](int attempt) -> Status {
      ProcessSpec run = spec;
      run.env.emplace_back("LIFELINE_ATTEMPT", std::to_string(attempt));
      ctx.Log("running " + Join(run.argv, ' '));
      LL_ASSIGN_OR_RETURN(Process p, Process::Spawn(run));
      int lines = 0;
      auto code = p.Wait(
          timeout_ms,
          [&](std::string_view line) {
            // Bounded: a chatty script cannot fill the job log.
            if (++lines <= 1000) ctx.Log("[" + a_.name + "] " + std::string(line));
          },
          [&] { return ctx.ShouldStop(); }, o_.kill_grace_ms);
      if (!code.ok()) return code.status();
      if (*code != 0) return Status::IOError("script exited with code " + std::to_string(*code));
      return Status::Ok();
    });
  }

 private:
  ActionArgs a_;
  PlanStepOptions o_;
};

class ManualStep final : public Step {
 public:
  ManualStep(ActionArgs a, PlanStepOptions o) : a_(std::move(a)), o_(o) {}
  // Waiting again after a restart is harmless.
  bool Resumable() const override { return true; }

  Status Run(StepContext& ctx) override {
    const Json& m = a_.action["manual"];
    int64_t timeout_ms = m.value("timeout_s", int64_t{0}) * 1000;
    return WithPolicy(ctx, a_, o_, [&](int) -> Status {
      ctx.Log("manual action '" + a_.name + "': " + m.value("message", "") +
              " - when done, run `lifeline plan continue " + std::to_string(ctx.job_id()) + "`");
      LL_ASSIGN_OR_RETURN(bool got, ctx.WaitForSignal("continue", timeout_ms));
      if (!got)
        return Status::Busy("nobody continued within " + std::to_string(timeout_ms / 1000) + " s");
      ctx.Log("manual action '" + a_.name + "' continued by the operator");
      return Status::Ok();
    });
  }

 private:
  ActionArgs a_;
  PlanStepOptions o_;
};

class NetworkPlanStep final : public Step {
 public:
  NetworkPlanStep(ActionArgs a, PlanStepOptions o) : a_(std::move(a)), o_(o) {
    const Json& n = a_.action["network"];
    name_ = n.value("step", "");
    if (n.contains("args")) {
      for (const auto& [k, v] : n["args"].items())
        args_[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  bool Resumable() const override {
    const NetworkStep* s = o_.network ? o_.network->Find(name_) : nullptr;
    return s != nullptr && s->idempotent;
  }
  Status Run(StepContext& ctx) override {
    const NetworkStep* s = o_.network ? o_.network->Find(name_) : nullptr;
    NetworkDriver* driver = o_.network ? o_.network->driver() : nullptr;
    return WithPolicy(ctx, a_, o_, [&](int attempt) -> Status {
      if (s != nullptr && s->run) {
        ctx.Log("network step " + name_);
        return s->run(ctx, args_);
      }
      if (driver == nullptr)
        return Status::NotFound("no network step named '" + name_ +
                                "' is registered and the vault has no network driver "
                                "(`vault run --network-driver command:PATH|lab:NAME`)");
      NetworkCall call{name_, args_, a_.plan, a_.operation, a_.group,
                       a_.name, a_.side,  ctx.job_id(), attempt};
      ctx.Log("network step " + name_ + " by the " + driver->name() + " driver");
      return driver->Run(ctx, call);
    });
  }
  Status Rollback(StepContext& ctx) override {
    const NetworkStep* s = o_.network ? o_.network->Find(name_) : nullptr;
    if (s == nullptr || !s->rollback) return Status::Ok();
    return s->rollback(ctx, args_);
  }

 private:
  ActionArgs a_;
  PlanStepOptions o_;
  std::string name_;
  std::map<std::string, std::string> args_;
};

template <typename T>
StepFactory Factory(PlanStepOptions options) {
  return [options](const Json& args) -> Result<std::unique_ptr<Step>> {
    LL_ASSIGN_OR_RETURN(ActionArgs a, ReadArgs(args));
    return std::unique_ptr<Step>(new T(std::move(a), options));
  };
}

}  // namespace

Status NetworkStepRegistry::Register(const std::string& name, NetworkStep step) {
  if (!step.run) return Status::InvalidArgument("network step " + name + " has no run function");
  if (!steps_.emplace(name, std::move(step)).second) {
    return Status::InvalidArgument("network step " + name + " is already registered");
  }
  return Status::Ok();
}

const NetworkStep* NetworkStepRegistry::Find(const std::string& name) const {
  auto it = steps_.find(name);
  return it == steps_.end() ? nullptr : &it->second;
}

std::set<std::string> NetworkStepRegistry::Names() const {
  std::set<std::string> out;
  for (const auto& [name, s] : steps_) out.insert(name);
  if (driver_)
    for (const auto& name : driver_->Steps()) out.insert(name);
  return out;
}

Status RegisterPlanSteps(StepRegistry* registry, const PlanStepOptions& options) {
  LL_RETURN_IF_ERROR(registry->Register("plan.script", Factory<ScriptStep>(options)));
  LL_RETURN_IF_ERROR(registry->Register("plan.manual", Factory<ManualStep>(options)));
  LL_RETURN_IF_ERROR(registry->Register("plan.network", Factory<NetworkPlanStep>(options)));
  return Status::Ok();
}

}  // namespace lifeline::control
