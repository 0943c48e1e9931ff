#include "vault/recovery_ops.h"

#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"
#include "control/drill_steps.h"
#include "control/nic_assign.h"
#include "control/plan.h"
#include "control/plan_steps.h"
#include "control/process.h"
#include "vault/json_fields.h"
#include "vault/network_drivers.h"
#include "vault/recovery_steps.h"
#include "vault/reverse_replication.h"

namespace lifeline::vault {
namespace {

using control::MachineEvent;
using nlohmann::json;

// Refuses an operation the lifecycle would refuse, before a job is created for it.
Status CheckEvent(control::Catalog* catalog, const std::string& machine, MachineEvent event) {
  LL_ASSIGN_OR_RETURN(auto m, catalog->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(auto state, control::ParseMachineState(m.state));
  LL_ASSIGN_OR_RETURN(auto drill, control::ParseDrillState(m.drill_state));
  return control::NextState(machine, state, event, drill).status();
}

}  // namespace

RecoveryOps::RecoveryOps(store::ReplicaStore* store, control::Catalog* catalog,
                         RecoveryOptions options)
    : store_(store),
      catalog_(catalog),
      options_(std::move(options)),
      lifecycle_(catalog),
      launchers_(control::LauncherRegistry::WithBuiltins()) {}

RecoveryOps::~RecoveryOps() {
  if (runner_) runner_->Stop();
}

Result<std::unique_ptr<RecoveryOps>> RecoveryOps::Create(store::ReplicaStore* store,
                                                         control::Catalog* catalog,
                                                         RecoveryOptions options) {
  std::unique_ptr<RecoveryOps> ops(new RecoveryOps(store, catalog, std::move(options)));
  const std::string root = JoinPath(ops->options_.dir, "recovery");
  LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(root));
  ops->exports_ = std::make_unique<PointExports>(store, JoinPath(root, "overlays"),
                                                 JoinPath(root, "exports.json"));
  // Exports of drills and failovers come back at the same URLs before any job resumes.
  std::vector<std::string> problems;
  LL_RETURN_IF_ERROR(ops->exports_->Restore(&problems));
  for (const auto& p : problems) log::Warn("recovery", p);
  ops->drill_exporter_ = ops->exports_->Exporter("drill");
  ops->failover_exporter_ = ops->exports_->Exporter("failover");
  control::DrillDeps dd;
  dd.catalog = catalog;
  dd.lifecycle = &ops->lifecycle_;
  dd.exporter = ops->drill_exporter_.get();
  dd.launchers = &ops->launchers_;
  dd.work_dir = root;
  dd.actor = ops->options_.actor;
  dd.stop_grace_ms = ops->options_.stop_grace_ms;
  LL_RETURN_IF_ERROR(control::RegisterDrillSteps(&ops->registry_, dd));
  LL_RETURN_IF_ERROR(ops->RegisterFailoverSteps());
  control::RunnerOptions ro;
  ro.poll_interval_ms = 20;
  ro.actor = ops->options_.actor;
  ops->runner_ = std::make_unique<control::JobRunner>(catalog, &ops->registry_, ro);
  LL_RETURN_IF_ERROR(ops->runner_->Start());
  return ops;
}

Status RecoveryOps::RegisterFailoverSteps() {
  RecoveryDeps d{store_,      catalog_,  &lifecycle_, failover_exporter_.get(),
                 &launchers_, options_, exports_.get()};
  LL_RETURN_IF_ERROR(RegisterRecoverySteps(&registry_, d));
  LL_ASSIGN_OR_RETURN(auto driver, MakeNetworkDriver(options_.network_driver));
  network_steps_.SetDriver(std::move(driver));
  return control::RegisterPlanSteps(&registry_, control::PlanStepOptions{.network = &network_steps_});
}

Status RecoveryOps::ApplyLauncherOverride(const std::string& machine, const json& request) {
  LL_ASSIGN_OR_RETURN(std::string command, StrField(request, "launcher_command", ""));
  if (command.empty()) return Status::Ok();
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  m.launcher = "command";
  m.launcher_config = json{{"command", {"/bin/sh", "-c", command}}}.dump();
  return catalog_->UpdateMachineConfig(m);
}

Result<json> RecoveryOps::RunJob(const control::JobSpec& spec) {
  LL_ASSIGN_OR_RETURN(int64_t id, runner_->Submit(spec));
  auto waited = runner_->Wait(id, options_.job_timeout_ms);
  if (!waited.ok() && waited.status().code() == Code::kBusy)  // still running: answer with the job
    return json{{"job", id}, {"kind", spec.kind}, {"state", "running"}};
  LL_ASSIGN_OR_RETURN(control::Job job, std::move(waited));
  json out = {
      {"job", id}, {"kind", spec.kind}, {"state", std::string(control::JobStateName(job.state))}};
  if (job.state != control::JobState::kDone) {
    return Status::FailedPrecondition(spec.kind + " job " + std::to_string(id) + " " +
                                      std::string(control::JobStateName(job.state)) +
                                      (job.error.empty() ? "" : ": " + job.error) +
                                      " (`lifeline job show " + std::to_string(id) + "`)");
  }
  return out;
}

Result<json> RecoveryOps::DrillStart(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_ASSIGN_OR_RETURN(std::string point, StrField(request, "point", "latest-processed"));
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  if (m.drill_state != "none")
    return Status::Busy("machine " + machine + " already has a drill (" + m.drill_state +
                        "): run `lifeline drill cleanup " + machine + "` first");
  // Every NIC needs a drill address before the job starts (a clear refusal, not a failed job).
  LL_RETURN_IF_ERROR(control::AssignNics(catalog_, m, control::NetworkMode::kDrill).status());
  LL_RETURN_IF_ERROR(ApplyLauncherOverride(machine, request));
  LL_ASSIGN_OR_RETURN(json out, RunJob(control::DrillJob({machine}, point)));
  LL_ASSIGN_OR_RETURN(json rec, Recovery(machine));
  out["exports"] = rec["exports"];
  out["instances"] = rec["instances"];
  return out;
}

Result<json> RecoveryOps::DrillCleanup(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_ASSIGN_OR_RETURN(std::string note, StrField(request, "note", ""));
  LL_RETURN_IF_ERROR(catalog_->GetMachineByName(machine).status());
  std::vector<PointExportInfo> used;
  for (const auto& e : exports_->List(machine))
    if (e.operation == "drill") used.push_back(e);
  LL_ASSIGN_OR_RETURN(json out, RunJob(control::DrillCleanupJob({machine}, note)));
  // The drill proved these points boot: say so on the points (metadata only, invariant 6
  // concerns the data and the replication stream).
  const std::string tag = "tested at " + FormatTime(Clock::System()->NowUnixNanos());
  json tagged = json::array();
  for (const auto& e : used) {
    if (e.point.point_id == 0) continue;
    auto replica = store_->Disk(e.disk_id);
    if (replica.ok() && (*replica)->TagPoint(e.point.point_id, tag).ok())
      tagged.push_back({{"disk_id", e.disk_id}, {"point_id", e.point.point_id}, {"tag", tag}});
  }
  out["tagged"] = tagged;
  return out;
}

Result<json> RecoveryOps::FailoverStart(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(const bool planned, BoolField(request, "planned", false));
  LL_ASSIGN_OR_RETURN(const bool launch, BoolField(request, "launch", true));
  LL_ASSIGN_OR_RETURN(const std::string mode, StrField(request, "mode", "export"));
  // A planned failover always uses the final point the drain takes (the newest point).
  if (planned && request.is_object() && request.contains("point"))
    return Status::InvalidArgument(
        "a planned failover uses the final point taken after the drain: no point choice");
  {
    LL_ASSIGN_OR_RETURN(auto state, control::ParseMachineState(m.state));
    LL_ASSIGN_OR_RETURN(auto drill, control::ParseDrillState(m.drill_state));
    LL_RETURN_IF_ERROR(
        control::NextState(machine, state, MachineEvent::kFailoverStart, drill).status());
  }
  if (mode != "export" && mode != "materialize")
    return Status::InvalidArgument("mode must be export or materialize, not " + mode);
  // A machine that will start needs an address on every NIC: refuse before a planned
  // failover stops anything.
  if (launch)
    LL_RETURN_IF_ERROR(control::AssignNics(catalog_, m, control::NetworkMode::kRecovery).status());
  LL_ASSIGN_OR_RETURN(const std::string point, StrField(request, "point", "latest-processed"));
  LL_RETURN_IF_ERROR(ApplyLauncherOverride(machine, request));
  control::JobSpec job;
  job.kind = m.direction == "reverse" ? "failback" : "failover";
  job.target = machine;
  json args = {{"machine", machine}, {"point", point}, {"mode", mode}, {"launch", launch}};
  if (request.is_object() && request.contains("targets")) {
    // Materialize into given paths (failback into the original disks): {disk id: path}.
    const json& t = request["targets"];
    if (!t.is_object() || mode != "materialize")
      return Status::InvalidArgument("targets must be an object {disk id: path} with mode materialize");
    for (const auto& [k, v] : t.items())
      if (!v.is_string() || v.get<std::string>().empty())
        return Status::InvalidArgument("target of " + k + " must be a path");
    args["targets"] = t;
  }
  if (request.is_object() && request.contains("drain_cycles")) {
    LL_ASSIGN_OR_RETURN(int64_t cycles, IntField(request, "drain_cycles", 1, 1, 10));
    args["drain_cycles"] = cycles;
  }
  job.params = args;
  job.params["planned"] = planned;
  if (planned)
    job.steps.push_back(
        {"failover.drain", "wait for the source to drain, take the final point", args});
  job.steps.push_back({"failover.recover", "start the machine from the recovery point", args});
  LL_ASSIGN_OR_RETURN(json out, RunJob(job));
  LL_ASSIGN_OR_RETURN(json rec, Recovery(machine));
  out["failover"] = rec["failover"];
  return out;
}

Result<json> RecoveryOps::FailoverChangePoint(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_ASSIGN_OR_RETURN(std::string point, StrField(request, "point", ""));
  if (point.empty()) return Status::InvalidArgument("change-point needs a point");
  LL_RETURN_IF_ERROR(CheckEvent(catalog_, machine, MachineEvent::kChangePoint));
  LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(options_, machine)));
  control::JobSpec job;
  job.kind = "failover-change-point";
  job.target = machine;
  json args = {{"machine", machine},
               {"point", point},
               {"mode", record.value("mode", "export")},
               {"launch", record.contains("pid")}};
  job.params = args;
  job.steps.push_back({"failover.stop", "stop the current failover copy", args});
  job.steps.push_back({"failover.recover", "start the machine from the new recovery point", args});
  LL_ASSIGN_OR_RETURN(json out, RunJob(job));
  LL_ASSIGN_OR_RETURN(json rec, Recovery(machine));
  out["failover"] = rec["failover"];
  return out;
}

Result<json> RecoveryOps::FailoverCancel(const std::string& machine) {
  LL_RETURN_IF_ERROR(CheckEvent(catalog_, machine, MachineEvent::kCancelFailover));
  control::JobSpec job;
  job.kind = "failover-cancel";
  job.target = machine;
  json args = {{"machine", machine}, {"cancel", true}};
  job.steps.push_back({"failover.stop", "stop the failover copy and go back to replication", args});
  return RunJob(job);
}

Result<json> RecoveryOps::FailoverCommit(const std::string& machine) {
  LL_RETURN_IF_ERROR(CheckEvent(catalog_, machine, MachineEvent::kCommit));
  control::JobSpec job;
  job.kind = "commit";
  job.target = machine;
  json args = {{"machine", machine}};
  job.steps.push_back(
      {"failover.commit", "accept the failover, drop the other recovery points", args});
  LL_ASSIGN_OR_RETURN(json out, RunJob(job));
  LL_ASSIGN_OR_RETURN(json rec, Recovery(machine));
  out["failover"] = rec["failover"];
  return out;
}

Result<json> RecoveryOps::Reprotect(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_RETURN_IF_ERROR(CheckEvent(catalog_, machine, MachineEvent::kReprotectStart));
  // With "reverse" the recovery site's agent replicates to the primary vault (continuous);
  // without it the original disks are synced once, here (offline).
  const bool continuous = request.is_object() && request.contains("reverse");
  if (continuous && request.contains("targets"))
    return Status::InvalidArgument(
        "targets are for the offline re-protect; the primary vault finds the original disks itself");
  if (continuous) {
    LL_RETURN_IF_ERROR(SaveReverseConfig(options_, machine, request["reverse"]));
  } else {
    (void)::unlink(ReverseFile(options_, machine).c_str());
  }
  control::JobSpec job;
  job.kind = "reprotect";
  job.target = machine;
  json args = {{"machine", machine}, {"continuous", continuous}};
  if (request.is_object() && request.contains("targets")) args["targets"] = request["targets"];
  job.params = args;
  job.steps.push_back({"reprotect.sync",
                       continuous ? "protect the recovered disks to the primary vault (seeded from "
                                    "the original disks), reverse the direction"
                                  : "sync the original disks from the failed-over ones, reverse the direction",
                       args});
  LL_ASSIGN_OR_RETURN(json out, RunJob(job));
  LL_ASSIGN_OR_RETURN(json rec, Recovery(machine));
  out["failover"] = rec["failover"];
  return out;
}

Result<json> RecoveryOps::Failback(const std::string& machine, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_RETURN_IF_ERROR(catalog_->GetMachineByName(machine).status());
  control::JobSpec job;
  job.kind = "failback";
  job.target = machine;
  json args = {{"machine", machine}};
  if (request.is_object() && request.contains("targets")) args["targets"] = request["targets"];
  job.params = args;
  job.steps.push_back({"failback.sync",
                       "shut the recovered copy down, sync the last changes home, forward again",
                       args});
  LL_ASSIGN_OR_RETURN(json out, RunJob(job));
  auto record = ReadJsonFile(JoinPath(RecoveryDir(options_, machine), "failback.json"));
  if (record.ok()) out["failback"] = (*record)["failback"];
  return out;
}

Result<json> RecoveryOps::PlanRun(const std::string& plan_name, const json& request) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  LL_ASSIGN_OR_RETURN(std::string op_name, StrField(request, "operation", ""));
  LL_ASSIGN_OR_RETURN(std::string point, StrField(request, "point", "latest-processed"));
  LL_ASSIGN_OR_RETURN(control::Operation op, control::ParseOperation(op_name));
  LL_ASSIGN_OR_RETURN(control::Plan plan, control::LoadPlan(catalog_, plan_name));
  // Every machine the plan starts needs its addresses before the plan's first action runs.
  if (op != control::Operation::kFailback) {
    const auto mode = op == control::Operation::kDrill ? control::NetworkMode::kDrill
                                                       : control::NetworkMode::kRecovery;
    for (const auto& group : plan.groups) {
      for (const auto& name : group.machines) {
        LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(name));
        LL_RETURN_IF_ERROR(control::AssignNics(catalog_, m, mode).status().WithContext(
            "plan " + plan_name + " group " + group.name));
      }
    }
  }
  control::PlanJobOptions po;
  po.point = point;
  LL_ASSIGN_OR_RETURN(control::JobSpec job, control::BuildPlanJob(plan, op, po));
  return RunJob(job);
}

Result<std::vector<std::string>> RecoveryOps::ReleaseMachine(const control::Machine& m) {
  std::vector<std::string> done;
  LL_ASSIGN_OR_RETURN(auto instances, catalog_->ListInstances(m.id, ""));
  auto launcher = launchers_.Create(m.launcher, json::parse(m.launcher_config, nullptr, false));
  for (const auto& in : instances) {
    control::LaunchHandle h;
    h.pid = static_cast<pid_t>(in.pid);
    Status s = launcher.ok() ? (*launcher)->Stop(h, options_.stop_grace_ms)
                             : control::StopProcessGroup(h.pid, options_.stop_grace_ms);
    if (!s.ok() && s.code() != Code::kNotFound)
      return s.WithContext("stop the " + in.operation + " copy");
    LL_RETURN_IF_ERROR(catalog_->DeleteInstance(in.id));
    done.push_back("stopped the " + in.operation + " copy (pid " + std::to_string(in.pid) + ")");
  }
  for (const auto& e : exports_->List(m.name)) {
    LL_RETURN_IF_ERROR(exports_->Unexport(e.operation, e.machine, e.disk_id));
    done.push_back("removed the " + e.operation + " export of " + e.disk_id);
  }
  const std::string dir = RecoveryDir(options_, m.name);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    std::filesystem::remove_all(dir, ec);
    if (ec) return Status::IOError("cannot remove " + dir + ": " + ec.message());
    done.push_back("removed " + dir);
  }
  return done;
}

Result<json> RecoveryOps::Recovery(const std::string& machine) {
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  json out = {{"machine", machine},
              {"state", m.state},
              {"drill_state", m.drill_state},
              {"direction", m.direction}};
  json exports = json::array();
  for (const auto& e : exports_->List(machine))
    exports.push_back({{"operation", e.operation},
                       {"disk_id", e.disk_id},
                       {"nbd_url", e.nbd_url},
                       {"seq", e.point.seq},
                       {"point_id", e.point.point_id},
                       {"point", e.point.description}});
  out["exports"] = exports;
  json instances = json::array();
  LL_ASSIGN_OR_RETURN(auto ins, catalog_->ListInstances(m.id, ""));
  for (const auto& in : ins)
    instances.push_back(
        {{"operation", in.operation}, {"pid", in.pid}, {"log", in.log_path}, {"ips", in.ips}});
  out["instances"] = instances;
  auto record = ReadJsonFile(FailoverFile(options_, machine));
  out["failover"] = record.ok() ? *record : json(nullptr);
  return out;
}

}  // namespace lifeline::vault
