#include "control/drill_steps.h"

#include <set>

#include "control/nic_assign.h"
#include "control/process.h"

namespace lifeline::control {
namespace {

using Json = nlohmann::json;

std::vector<std::string> MachinesArg(const Json& args) {
  std::vector<std::string> out;
  if (args.contains("machines") && args["machines"].is_array()) {
    for (const Json& m : args["machines"]) {
      if (m.is_string()) out.push_back(m.get<std::string>());
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Stops a machine's drill instances and removes its exports; tolerant of half-done work.
Status StopDrillMachine(const DrillDeps& d, StepContext& ctx, const Machine& m) {
  Status first;
  LL_ASSIGN_OR_RETURN(std::vector<Instance> instances, d.catalog->ListInstances(m.id, "drill"));
  auto launcher = d.launchers->Create(m.launcher, Json::parse(m.launcher_config, nullptr, false));
  for (const Instance& in : instances) {
    LaunchHandle h;
    h.pid = static_cast<pid_t>(in.pid);
    Status s = launcher.ok() ? (*launcher)->Stop(h, d.stop_grace_ms)
                             : StopProcessGroup(h.pid, d.stop_grace_ms);
    if (!s.ok() && s.code() != Code::kNotFound && first.ok()) first = s;
    ctx.Log("stopped drill copy of " + m.name + " (pid " + std::to_string(in.pid) + ")");
    LL_RETURN_IF_ERROR(d.catalog->DeleteInstance(in.id));
  }
  LL_ASSIGN_OR_RETURN(std::vector<Disk> disks, d.catalog->ListDisks(m.id));
  for (const Disk& disk : disks) {
    Status s = d.exporter->Unexport(m, disk);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

class PrepareStep final : public Step {
 public:
  PrepareStep(DrillDeps d, Json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }  // reads only
  Status Run(StepContext& ctx) override {
    for (const std::string& name : MachinesArg(args_)) {
      LL_ASSIGN_OR_RETURN(Machine m, d_.catalog->GetMachineByName(name));
      LL_ASSIGN_OR_RETURN(MachineState state, ParseMachineState(m.state));
      LL_ASSIGN_OR_RETURN(DrillState drill, ParseDrillState(m.drill_state));
      LL_RETURN_IF_ERROR(NextDrillState(name, drill, DrillEvent::kDrillStart, state).status());
      LL_ASSIGN_OR_RETURN(std::vector<Disk> disks, d_.catalog->ListDisks(m.id));
      if (disks.empty())
        return Status::FailedPrecondition("machine " + name + " has no disks to recover");
      // Every NIC must get a drill address before anything starts.
      LL_RETURN_IF_ERROR(AssignNics(d_.catalog, m, NetworkMode::kDrill).status());
      ctx.Log(name + ": " + std::to_string(disks.size()) + " disks ready for a drill");
    }
    return Status::Ok();
  }

 private:
  DrillDeps d_;
  Json args_;
};

class StartGroupStep final : public Step {
 public:
  StartGroupStep(DrillDeps d, Json args) : d_(std::move(d)), args_(std::move(args)) {}

  Status Run(StepContext& ctx) override {
    std::vector<std::string> machines = MachinesArg(args_);
    std::string point = args_.value("point", "");
    if (point.empty()) point = "latest-processed";
    for (size_t i = 0; i < machines.size(); ++i) {
      if (ctx.ShouldStop()) return Status::Busy("stopped before starting " + machines[i]);
      LL_RETURN_IF_ERROR(StartOne(ctx, machines[i], point));
      ctx.Progress(static_cast<int>((i + 1) * 100 / machines.size()));
    }
    return Status::Ok();
  }

  Status Rollback(StepContext& ctx) override {
    Status first;
    for (const std::string& name : MachinesArg(args_)) {
      auto m = d_.catalog->GetMachineByName(name);
      if (!m.ok()) continue;
      Status s = StopDrillMachine(d_, ctx, *m);
      if (!s.ok() && first.ok()) first = s;
      if (m->drill_state == DrillStateName(DrillState::kDrillRunning)) {
        (void)d_.lifecycle->SetDrillState(name, DrillEvent::kDrillFailed, d_.actor);
        (void)d_.lifecycle->SetDrillState(name, DrillEvent::kDrillCleanupDone, d_.actor);
      }
    }
    return first;
  }

 private:
  Status StartOne(StepContext& ctx, const std::string& name, const std::string& point) {
    LL_ASSIGN_OR_RETURN(Machine m, d_.catalog->GetMachineByName(name));
    LL_RETURN_IF_ERROR(
        d_.lifecycle->SetDrillState(name, DrillEvent::kDrillStart, d_.actor).status());
    LaunchSpec spec;
    spec.machine = name;
    spec.operation = "drill";
    spec.cpus = m.cpus;
    spec.memory_mib = m.memory_mib;
    spec.work_dir = d_.work_dir;
    // Addresses first (copies already running in the drill network hold theirs), so an
    // unmapped network fails before anything is exported.
    LL_ASSIGN_OR_RETURN(std::vector<NicAssignment> assigned,
                        AssignNics(d_.catalog, m, NetworkMode::kDrill));
    LL_ASSIGN_OR_RETURN(std::vector<Disk> disks, d_.catalog->ListDisks(m.id));
    for (const Disk& disk : disks) {
      LL_ASSIGN_OR_RETURN(LaunchDisk ld, d_.exporter->Export(m, disk, point));
      spec.disks.push_back(std::move(ld));
    }
    std::vector<std::string> ips;
    for (size_t i = 0; i < assigned.size(); ++i) {
      const NicAssignment& a = assigned[i];
      spec.nics.push_back(ToLaunchNic(a, m.nics[i].mac));
      ips.push_back(a.ip.ToString());
      ctx.Log(DescribeAssignment(a));
    }
    Json config = Json::parse(m.launcher_config, nullptr, false);
    if (config.is_discarded())
      return Status::InvalidArgument("machine " + name + ": launcher config is not JSON");
    LL_ASSIGN_OR_RETURN(auto launcher, d_.launchers->Create(m.launcher, config));
    LL_ASSIGN_OR_RETURN(LaunchHandle h, launcher->Start(spec));
    std::string command;
    for (const auto& a : h.argv) command += (command.empty() ? "" : " ") + a;
    Instance in;
    in.machine_id = m.id;
    in.operation = "drill";
    in.pid = h.pid;
    in.log_path = h.log_path;
    in.command = command;
    in.ips = Join(ips);
    LL_RETURN_IF_ERROR(d_.catalog->AddInstance(in).status());
    ctx.Log("started drill copy of " + name + " with " + m.launcher + " (pid " +
            std::to_string(h.pid) + ", log " + h.log_path + ")");
    return Status::Ok();
  }

  DrillDeps d_;
  Json args_;
};

class CleanupStep final : public Step {
 public:
  CleanupStep(DrillDeps d, Json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }  // stopping what is stopped is harmless
  Status Run(StepContext& ctx) override {
    std::string note = args_.value("note", "");
    for (const std::string& name : MachinesArg(args_)) {
      LL_ASSIGN_OR_RETURN(Machine m, d_.catalog->GetMachineByName(name));
      LL_RETURN_IF_ERROR(StopDrillMachine(d_, ctx, m));
      if (m.drill_state == DrillStateName(DrillState::kDrillRunning)) {
        LL_RETURN_IF_ERROR(
            d_.lifecycle->SetDrillState(name, DrillEvent::kDrillStop, d_.actor).status());
        m.drill_state = DrillStateName(DrillState::kDrillDoneCleanupPending);
      }
      if (m.drill_state == DrillStateName(DrillState::kDrillDoneCleanupPending)) {
        LL_RETURN_IF_ERROR(
            d_.lifecycle->SetDrillState(name, DrillEvent::kDrillCleanupDone, d_.actor).status());
      }
      (void)d_.catalog->Audit(d_.actor, "drill.cleanup", "machine/" + name, note);
      ctx.Log("drill of " + name + " cleaned up" + (note.empty() ? "" : ": " + note));
    }
    return Status::Ok();
  }

 private:
  DrillDeps d_;
  Json args_;
};

template <typename T>
StepFactory Factory(const DrillDeps& deps) {
  return [deps](const Json& args) -> Result<std::unique_ptr<Step>> {
    return std::unique_ptr<Step>(new T(deps, args));
  };
}

}  // namespace

Status RegisterDrillSteps(StepRegistry* registry, const DrillDeps& deps) {
  if (!deps.catalog || !deps.lifecycle || !deps.exporter || !deps.launchers) {
    return Status::InvalidArgument("drill steps need a catalog, lifecycle, exporter and launchers");
  }
  LL_RETURN_IF_ERROR(registry->Register("drill.prepare", Factory<PrepareStep>(deps)));
  LL_RETURN_IF_ERROR(registry->Register("drill.start-group", Factory<StartGroupStep>(deps)));
  LL_RETURN_IF_ERROR(registry->Register("drill.cleanup", Factory<CleanupStep>(deps)));
  return Status::Ok();
}

JobSpec DrillJob(const std::vector<std::string>& machines, const std::string& point) {
  JobSpec job;
  job.kind = "drill";
  job.target = machines.size() == 1 ? machines[0] : Join(machines).substr(0, 128);
  Json args = {{"machines", machines}, {"point", point}, {"operation", "drill"}};
  job.params = args;
  job.steps.push_back({"drill.prepare", "check the machines can be drilled", args});
  job.steps.push_back({"drill.start-group", "start the drill copies", args});
  return job;
}

JobSpec DrillCleanupJob(const std::vector<std::string>& machines, const std::string& note) {
  JobSpec job;
  job.kind = "drill-cleanup";
  job.target = machines.size() == 1 ? machines[0] : Join(machines).substr(0, 128);
  Json args = {{"machines", machines}, {"note", note}};
  job.params = args;
  job.steps.push_back({"drill.cleanup", "stop the drill copies and remove their exports", args});
  return job;
}

}  // namespace lifeline::control
