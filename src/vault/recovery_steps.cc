#include "vault/recovery_steps.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/checksum.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/units.h"
#include "control/nic_assign.h"
#include "control/process.h"
#include "vault/planned_drain.h"
#include "vault/reverse_replication.h"

namespace lifeline::vault {

using control::MachineEvent;
using control::MachineState;
using nlohmann::json;

static std::string StateOf(control::Catalog* catalog, const std::string& machine) {
  auto m = catalog->GetMachineByName(machine);
  return m.ok() ? m->state : "";
}

std::string RecoveryDir(const RecoveryOptions& o, const std::string& machine) {
  return JoinPath(JoinPath(o.dir, "recovery"), machine);
}
std::string FailoverFile(const RecoveryOptions& o, const std::string& machine) {
  return JoinPath(RecoveryDir(o, machine), "failover.json");
}

Result<json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no failover record at " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return Status::Corruption("failover record " + path + " is not JSON");
  return j;
}

Status WriteJsonFile(const std::string& path, const json& j) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2);
    if (!out) return Status::IOError("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError("cannot rename " + tmp);
  return Status::Ok();
}

// Undoes a failover's copies and exports (used by rollback, change-point, cancel, failback).
Status StopInstances(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m) {
  Status first;
  LL_ASSIGN_OR_RETURN(auto instances, d.catalog->ListInstances(m.id, "failover"));
  auto launcher = d.launchers->Create(m.launcher, json::parse(m.launcher_config, nullptr, false));
  for (const auto& in : instances) {
    control::LaunchHandle h;
    h.pid = static_cast<pid_t>(in.pid);
    Status s = launcher.ok() ? (*launcher)->Stop(h, d.options.stop_grace_ms)
                             : control::StopProcessGroup(h.pid, d.options.stop_grace_ms);
    if (!s.ok() && s.code() != Code::kNotFound && first.ok()) first = s;
    ctx.Log("stopped failover copy of " + m.name + " (pid " + std::to_string(in.pid) + ")");
    LL_RETURN_IF_ERROR(d.catalog->DeleteInstance(in.id));
  }
  return first;
}

json CaptureConfigOf(const control::Machine& m) {
  json capture = json::parse(m.capture_config, nullptr, false);
  return capture.is_object() ? capture : json::object();
}

Status RequestWholeDiskResync(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m) {
  if (m.capture_mode != "nbd") return Status::Ok();
  json capture = CaptureConfigOf(m);
  const uint64_t epoch = static_cast<uint64_t>(Clock::System()->NowUnixNanos());
  capture["resync_epoch"] = epoch;
  LL_RETURN_IF_ERROR(d.catalog->SetMachineCapture(m.id, m.capture_mode, capture.dump()));
  ctx.Log(m.name + ": nbd mode, the agent resyncs the whole disk by block hashes (resync epoch " +
          std::to_string(epoch) + ")");
  return Status::Ok();
}

Status StopFailover(const RecoveryDeps& d, control::StepContext& ctx, const control::Machine& m) {
  Status first = StopInstances(d, ctx, m);
  LL_ASSIGN_OR_RETURN(auto disks, d.catalog->ListDisks(m.id));
  for (const auto& disk : disks) {
    Status s = d.exporter->Unexport(m, disk);
    if (!s.ok() && first.ok()) first = s;
    std::string image = JoinPath(RecoveryDir(d.options, m.name), disk.store_disk_id + ".img");
    (void)::unlink(image.c_str());
  }
  return first;
}

namespace {

// Brings the machine up at the recovery site from the chosen point.
class RecoverStep final : public control::Step {
 public:
  RecoverStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    const std::string choice = args_.value("point", "latest-processed");
    const std::string mode = args_.value("mode", "export");
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    if (m.state != control::StateName(MachineState::kFailoverInProgress))
      LL_RETURN_IF_ERROR(
          d_.lifecycle->SetState(name, MachineEvent::kFailoverStart, d_.options.actor).status());
    const std::string dir = RecoveryDir(d_.options, name);
    LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(dir));
    control::LaunchSpec spec;
    spec.machine = name;
    spec.operation = m.direction == "reverse" ? "failback" : "failover";
    spec.cpus = m.cpus;
    spec.memory_mib = m.memory_mib;
    spec.work_dir = dir;
    json record = {{"machine", name},
                   {"choice", choice},
                   {"mode", mode},
                   {"job", ctx.job_id()},
                   {"disks", json::array()}};
    LL_ASSIGN_OR_RETURN(auto disks, d_.catalog->ListDisks(m.id));
    for (const auto& disk : disks) {
      LL_ASSIGN_OR_RETURN(auto replica, d_.store->Disk(disk.store_disk_id));
      LL_ASSIGN_OR_RETURN(ResolvedPoint point, ResolvePoint(*replica, choice));
      json dj = {{"disk_id", disk.store_disk_id},
                 {"seq", point.seq},
                 {"point_id", point.point_id},
                 {"point", point.description}};
      const json targets = args_.value("targets", json::object());
      if (mode == "materialize" && targets.is_object() && targets.contains(disk.store_disk_id) &&
          targets[disk.store_disk_id].is_string()) {
        // Into the original disk (failback at the primary site): only differing blocks.
        const std::string target = targets[disk.store_disk_id].get<std::string>();
        LL_ASSIGN_OR_RETURN(json written, WritePointInto(*replica, point.seq, target, ctx));
        spec.disks.push_back({"", target, "raw"});
        dj["image"] = target;
        dj["in_place"] = true;
        dj["written"] = written;
      } else if (mode == "materialize") {
        std::string image = JoinPath(dir, disk.store_disk_id + ".img");
        ctx.Log(disk.store_disk_id + ": materializing " + point.description + " to " + image);
        LL_RETURN_IF_ERROR(replica->Materialize(point.seq, image));
        spec.disks.push_back({"", image, "raw"});
        dj["image"] = image;
      } else {
        // Export at the resolved seq so every later look-up agrees with the record.
        LL_ASSIGN_OR_RETURN(auto ld,
                            d_.exporter->Export(m, disk, "seq:" + std::to_string(point.seq)));
        ctx.Log(disk.store_disk_id + ": exported " + point.description + " at " + ld.nbd_url);
        spec.disks.push_back(ld);
        dj["nbd_url"] = ld.nbd_url;
      }
      record["disks"].push_back(dj);
    }
    if (args_.value("launch", true)) {
      LL_ASSIGN_OR_RETURN(auto assigned,
                          control::AssignNics(d_.catalog, m, control::NetworkMode::kRecovery));
      std::string ips;
      record["nics"] = json::array();
      for (size_t i = 0; i < assigned.size(); ++i) {
        const auto& a = assigned[i];
        spec.nics.push_back(control::ToLaunchNic(a, m.nics[i].mac));
        ctx.Log(control::DescribeAssignment(a));
        ips += (ips.empty() ? "" : ",") + a.ip.ToString();
        record["nics"].push_back({{"index", a.nic_index},
                                  {"network", a.network},
                                  {"ip", a.ip.ToString()},
                                  {"prefix_len", a.prefix_len},
                                  {"reason", a.reason}});
      }
      json config = json::parse(m.launcher_config, nullptr, false);
      if (config.is_discarded())
        return Status::InvalidArgument("machine " + name + ": launcher config is not JSON");
      LL_ASSIGN_OR_RETURN(auto launcher, d_.launchers->Create(m.launcher, config));
      LL_ASSIGN_OR_RETURN(auto h, launcher->Start(spec));
      control::Instance in;
      in.machine_id = m.id;
      in.operation = "failover";
      in.pid = h.pid;
      in.log_path = h.log_path;
      in.ips = ips;
      for (const auto& a : h.argv) in.command += (in.command.empty() ? "" : " ") + a;
      LL_RETURN_IF_ERROR(d_.catalog->AddInstance(in).status());
      record["pid"] = h.pid;
      record["log"] = h.log_path;
      ctx.Log("started " + name + " with " + m.launcher + " (pid " + std::to_string(h.pid) + ")");
    }
    record["time"] = FormatTime(Clock::System()->NowUnixNanos());
    LL_RETURN_IF_ERROR(WriteJsonFile(FailoverFile(d_.options, name), record));
    LL_RETURN_IF_ERROR(
        d_.lifecycle->SetState(name, MachineEvent::kFailoverDone, d_.options.actor).status());
    return Status::Ok();
  }

  Status Rollback(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    // Only undo this job's own work: a refused second start leaves the running one alone.
    if (m.state != control::StateName(MachineState::kFailoverInProgress)) return Status::Ok();
    auto record = ReadJsonFile(FailoverFile(d_.options, name));
    if (record.ok() && record->value("job", int64_t{0}) != ctx.job_id()) return Status::Ok();
    Status s = StopFailover(d_, ctx, m);
    (void)::unlink(FailoverFile(d_.options, name).c_str());
    if (StateOf(d_.catalog, name) == control::StateName(MachineState::kFailoverInProgress))
      (void)d_.lifecycle->SetState(name, MachineEvent::kFailoverFailed, d_.options.actor);
    return s;
  }

 private:
  RecoveryDeps d_;
  json args_;
};

// Before commit: stop the current copy to fail over again (change-point) or to go back
// to replication (cancel).
class StopStep final : public control::Step {
 public:
  StopStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }
  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    const bool cancel = args_.value("cancel", false);
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    const std::string target =
        cancel ? std::string(control::StateName(MachineState::kProtected))
               : std::string(control::StateName(MachineState::kFailoverInProgress));
    if (m.state != target)
      LL_RETURN_IF_ERROR(
          d_.lifecycle
              ->SetState(name, cancel ? MachineEvent::kCancelFailover : MachineEvent::kChangePoint,
                         d_.options.actor)
              .status());
    LL_RETURN_IF_ERROR(StopFailover(d_, ctx, m));
    if (cancel) {
      (void)::unlink(FailoverFile(d_.options, name).c_str());
      // The source may run again: its agent lifts the fence of a planned failover.
      LL_RETURN_IF_ERROR(ClearDrainRequest(d_, ctx, name));
    }
    return Status::Ok();
  }

 private:
  RecoveryDeps d_;
  json args_;
};

// Accepts the failover: keeps the point used (adding one when a point in time was chosen)
// and drops every other recovery point of the machine's disks.
class CommitStep final : public control::Step {
 public:
  CommitStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }
  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(d_.options, name)));
    if (StateOf(d_.catalog, name) != control::StateName(MachineState::kCommitted))
      LL_RETURN_IF_ERROR(
          d_.lifecycle->SetState(name, MachineEvent::kCommit, d_.options.actor).status());
    const std::string now = FormatTime(Clock::System()->NowUnixNanos());
    for (auto& dj : record["disks"]) {
      LL_ASSIGN_OR_RETURN(auto replica, d_.store->Disk(dj.value("disk_id", "")));
      uint64_t keep = dj.value("point_id", uint64_t{0});
      if (keep == 0 || !replica->FindPoint(keep).ok()) {
        store::PointRequest req;
        req.seq = dj.value("seq", uint64_t{0});
        req.label = "failover";
        LL_ASSIGN_OR_RETURN(auto p, replica->AddPoint(req));
        keep = p.id;
        dj["point_id"] = keep;
      }
      std::vector<uint64_t> drop;
      for (const auto& p : replica->Points())
        if (p.id != keep) drop.push_back(p.id);
      LL_RETURN_IF_ERROR(replica->RemovePoints(drop));
      (void)replica->TagPoint(keep, "failover committed at " + now);
      dj["points_dropped"] = drop.size();
      ctx.Log(replica->disk_id() + ": kept point " + std::to_string(keep) + ", dropped " +
              std::to_string(drop.size()) + " other points");
    }
    record["committed"] = now;
    LL_RETURN_IF_ERROR(WriteJsonFile(FailoverFile(d_.options, name), record));
    // Done with the drain: once the machine is assigned again (after a failback) its agent
    // must not find the old request.
    return ClearDrainRequest(d_, ctx, name);
  }

 private:
  RecoveryDeps d_;
  json args_;
};

// Re-protect's data path: brings `target` (the original disk at the primary site) to the
// failed-over disk's current content. When the target still exists with the same size only
// blocks whose hashes differ are written; otherwise the whole disk is copied (zero blocks
// as holes). Returns {mode, blocks, blocks_sent, bytes_sent}.
constexpr uint64_t kSyncBlockBytes = 64 * 1024;

Result<json> ReverseSync(const RecoveryDeps& d, control::StepContext& ctx,
                         const std::string& machine, const json& dj, const std::string& target) {
  const std::string disk_id = dj.value("disk_id", "");
  LL_ASSIGN_OR_RETURN(auto replica, d.store->Disk(disk_id));
  const uint64_t size = replica->size_bytes();
  std::shared_ptr<OverlayBackend> backend;
  int image_fd = -1;
  if (dj.contains("nbd_url")) {
    LL_ASSIGN_OR_RETURN(backend, d.exports->BackendOf("failover", machine, disk_id));
  } else {
    std::string image = dj.value("image", "");
    image_fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
    if (image_fd < 0) return Status::NotFound("failed-over image " + image + " is missing");
  }
  struct stat st {};
  bool delta =
      ::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) == size;
  int fd = ::open(target.c_str(),
                  delta ? (O_RDWR | O_CLOEXEC) : (O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC), 0600);
  if (fd < 0) {
    if (image_fd >= 0) ::close(image_fd);
    return Status::IOError("cannot open the original disk " + target);
  }
  Status status;
  if (!delta && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
    status = Status::IOError("cannot size " + target);
  std::vector<uint8_t> src(kSyncBlockBytes), dst(kSyncBlockBytes);
  const std::vector<uint8_t> zeros(kSyncBlockBytes, 0);
  uint64_t blocks = 0, sent = 0, bytes = 0;
  for (uint64_t off = 0; status.ok() && off < size; off += kSyncBlockBytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kSyncBlockBytes, size - off));
    ++blocks;
    if (backend) {
      status = backend->Read(off, {src.data(), n});
    } else if (::pread(image_fd, src.data(), n, static_cast<off_t>(off)) !=
               static_cast<ssize_t>(n)) {
      status = Status::IOError("short read of the failed-over image");
    }
    if (!status.ok()) break;
    bool send;
    if (delta) {
      if (::pread(fd, dst.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
        status = Status::IOError("short read of " + target);
        break;
      }
      // The original side's block hashes against the recovered side's: only differences move.
      send = Xxh3(src.data(), n) != Xxh3(dst.data(), n);
    } else {
      send = std::memcmp(src.data(), zeros.data(), n) != 0;  // zero blocks stay holes
    }
    if (!send) continue;
    if (::pwrite(fd, src.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      status = Status::IOError("cannot write " + target);
      break;
    }
    ++sent;
    bytes += n;
    if (blocks % 1024 == 0) ctx.Progress(static_cast<int>(off * 100 / size));
  }
  if (status.ok() && ::fdatasync(fd) != 0) status = Status::IOError("cannot sync " + target);
  ::close(fd);
  if (image_fd >= 0) ::close(image_fd);
  LL_RETURN_IF_ERROR(status);
  ctx.Log(disk_id + " -> " + target + ": " + (delta ? "delta" : "full") + " sync, " +
          std::to_string(sent) + " of " + std::to_string(blocks) + " blocks sent (" +
          FormatBytes(double(bytes)) + ")");
  return json{{"disk_id", disk_id}, {"target", target},    {"mode", delta ? "delta" : "full"},
              {"blocks", blocks},   {"blocks_sent", sent}, {"bytes_sent", bytes}};
}

Result<std::string> TargetOf(const RecoveryDeps& d, const json& args, const control::Machine& m,
                             const std::string& disk_id) {
  if (args.contains("targets") && args["targets"].is_object() &&
      args["targets"].contains(disk_id) && args["targets"][disk_id].is_string())
    return args["targets"][disk_id].get<std::string>();
  LL_ASSIGN_OR_RETURN(auto disks, d.catalog->ListDisks(m.id));
  for (const auto& disk : disks)
    if (disk.store_disk_id == disk_id) return disk.path;
  return Status::NotFound("no original disk for " + disk_id);
}

// Re-protect after commit: sync the original disks from the failed-over ones (delta when
// they still exist) and flip the replication direction.
class ReprotectStep final : public control::Step {
 public:
  ReprotectStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }  // the sync converges when run again
  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    if (HasReverseConfig(d_.options, name))  // continuous reverse replication
      return RunReverseReprotect(d_, ctx, name).status();
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(d_.options, name)));
    if (m.state != control::StateName(MachineState::kReprotecting))
      LL_RETURN_IF_ERROR(
          d_.lifecycle->SetState(name, MachineEvent::kReprotectStart, d_.options.actor).status());
    json stats = json::array();
    for (const auto& dj : record["disks"]) {
      LL_ASSIGN_OR_RETURN(std::string target, TargetOf(d_, args_, m, dj.value("disk_id", "")));
      LL_ASSIGN_OR_RETURN(json st, ReverseSync(d_, ctx, name, dj, target));
      stats.push_back(st);
    }
    record["reprotect"] = stats;
    LL_RETURN_IF_ERROR(WriteJsonFile(FailoverFile(d_.options, name), record));
    return d_.lifecycle->SetState(name, MachineEvent::kReprotectDone, d_.options.actor).status();
  }
  Status Rollback(control::StepContext&) override {
    const std::string name = args_.value("machine", "");
    if (StateOf(d_.catalog, name) == control::StateName(MachineState::kReprotecting))
      (void)d_.lifecycle->SetState(name, MachineEvent::kReprotectFailed, d_.options.actor);
    return Status::Ok();
  }

 private:
  RecoveryDeps d_;
  json args_;
};

// Failback: a planned failover back to the primary site. The recovered copy is shut down,
// the last differences go to the original disks (nothing written at the recovery site is
// lost), the exports are removed and the machine returns to protected, direction forward;
// the primary's agent then replicates the original disks again.
class FailbackStep final : public control::Step {
 public:
  FailbackStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }
  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    if (HasReverseConfig(d_.options, name))  // home from the reverse replica
      return RunReverseFailback(d_, ctx, name).status();
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(d_.options, name)));
    auto event = [&](MachineEvent e) {
      return d_.lifecycle->SetState(name, e, d_.options.actor).status();
    };
    if (m.state == control::StateName(MachineState::kProtected) && m.direction == "reverse")
      LL_RETURN_IF_ERROR(event(MachineEvent::kFailoverStart));
    LL_ASSIGN_OR_RETURN(m, d_.catalog->GetMachineByName(name));
    if (m.state != control::StateName(MachineState::kFailoverInProgress))
      return Status::FailedPrecondition(
          "machine " + name + " is " + m.state + " (" + m.direction +
          "): a failback needs a re-protected machine (protected, reverse)");
    LL_RETURN_IF_ERROR(
        StopInstances(d_, ctx, m));  // planned: the recovered copy is shut down first
    json stats = json::array();
    for (const auto& dj : record["disks"]) {
      LL_ASSIGN_OR_RETURN(std::string target, TargetOf(d_, args_, m, dj.value("disk_id", "")));
      LL_ASSIGN_OR_RETURN(json st, ReverseSync(d_, ctx, name, dj, target));
      stats.push_back(st);
    }
    LL_RETURN_IF_ERROR(StopFailover(d_, ctx, m));
    LL_RETURN_IF_ERROR(RequestWholeDiskResync(d_, ctx, m));
    LL_RETURN_IF_ERROR(event(MachineEvent::kFailoverDone));
    LL_RETURN_IF_ERROR(event(MachineEvent::kCommit));
    LL_RETURN_IF_ERROR(event(MachineEvent::kReprotectStart));
    LL_RETURN_IF_ERROR(event(MachineEvent::kReprotectDone));
    record["failback"] = stats;
    record["failback_time"] = FormatTime(Clock::System()->NowUnixNanos());
    LL_RETURN_IF_ERROR(
        WriteJsonFile(JoinPath(RecoveryDir(d_.options, name), "failback.json"), record));
    (void)::unlink(FailoverFile(d_.options, name).c_str());
    return Status::Ok();
  }

 private:
  RecoveryDeps d_;
  json args_;
};

// Plan steps for failover and failback plans (BuildPlanJob names them {op}.shutdown,
// {op}.prepare, {op}.start-group; drills use the drill steps).
std::vector<std::string> MachinesOf(const json& args) {
  std::vector<std::string> out;
  if (args.contains("machines") && args["machines"].is_array())
    for (const auto& m : args["machines"])
      if (m.is_string()) out.push_back(m.get<std::string>());
  return out;
}

// The vault cannot power off machines at the primary site: the operator (or a plan script
// before this step) does; in a disaster they are gone anyway.
class PlanShutdownStep final : public control::Step {
 public:
  PlanShutdownStep(RecoveryDeps, json args) : args_(std::move(args)) {}
  bool Resumable() const override { return true; }
  Status Run(control::StepContext& ctx) override {
    for (const auto& m : MachinesOf(args_))
      ctx.Log(m + ": the source must be shut down by the operator or a plan script; continuing");
    return Status::Ok();
  }

 private:
  json args_;
};

class PlanPrepareStep final : public control::Step {
 public:
  PlanPrepareStep(RecoveryDeps d, json args, bool failback)
      : d_(std::move(d)), args_(std::move(args)), failback_(failback) {}
  bool Resumable() const override { return true; }
  Status Run(control::StepContext& ctx) override {
    for (const auto& name : MachinesOf(args_)) {
      LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
      if (failback_) {
        if (m.state != control::StateName(MachineState::kProtected) || m.direction != "reverse")
          return Status::FailedPrecondition("machine " + name + " is " + m.state + " (" +
                                            m.direction +
                                            "): a failback needs a re-protected machine");
      } else {
        LL_ASSIGN_OR_RETURN(auto state, control::ParseMachineState(m.state));
        LL_ASSIGN_OR_RETURN(auto drill, control::ParseDrillState(m.drill_state));
        LL_RETURN_IF_ERROR(
            control::NextState(name, state, MachineEvent::kFailoverStart, drill).status());
        LL_ASSIGN_OR_RETURN(auto disks, d_.catalog->ListDisks(m.id));
        for (const auto& disk : disks) {
          LL_ASSIGN_OR_RETURN(auto replica, d_.store->Disk(disk.store_disk_id));
          LL_RETURN_IF_ERROR(ResolvePoint(*replica, args_.value("point", "")).status());
        }
      }
      ctx.Log(name + ": ready");
    }
    return Status::Ok();
  }

 private:
  RecoveryDeps d_;
  json args_;
  bool failback_;
};

// One group: the per-machine step (recover or failback) for each machine in turn.
template <typename T>
class PlanGroupStep final : public control::Step {
 public:
  PlanGroupStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  Status Run(control::StepContext& ctx) override {
    auto machines = MachinesOf(args_);
    for (size_t i = 0; i < machines.size(); ++i) {
      json a = {{"machine", machines[i]},
                {"point", args_.value("point", "")},
                {"mode", "export"},
                {"launch", true}};
      if (a["point"] == "") a["point"] = "latest-processed";
      T step(d_, a);
      LL_RETURN_IF_ERROR(step.Run(ctx));
      ctx.Progress(static_cast<int>((i + 1) * 100 / machines.size()));
    }
    return Status::Ok();
  }
  Status Rollback(control::StepContext& ctx) override {
    Status first;
    for (const auto& name : MachinesOf(args_)) {
      T step(d_, json{{"machine", name}});
      Status s = step.Rollback(ctx);
      if (!s.ok() && first.ok()) first = s;
    }
    return first;
  }

 private:
  RecoveryDeps d_;
  json args_;
};

template <typename T>
control::StepFactory Factory(const RecoveryDeps& deps) {
  return [deps](const json& args) -> Result<std::unique_ptr<control::Step>> {
    return std::unique_ptr<control::Step>(new T(deps, args));
  };
}

}  // namespace

Status RegisterRecoverySteps(control::StepRegistry* registry, const RecoveryDeps& d) {
  LL_RETURN_IF_ERROR(registry->Register("failover.drain", DrainStepFactory(d)));
  LL_RETURN_IF_ERROR(registry->Register("failover.recover", Factory<RecoverStep>(d)));
  LL_RETURN_IF_ERROR(registry->Register("failover.stop", Factory<StopStep>(d)));
  LL_RETURN_IF_ERROR(registry->Register("failover.commit", Factory<CommitStep>(d)));
  LL_RETURN_IF_ERROR(registry->Register("reprotect.sync", Factory<ReprotectStep>(d)));
  LL_RETURN_IF_ERROR(registry->Register("failback.sync", Factory<FailbackStep>(d)));
  // Recovery plans (plan.h BuildPlanJob): failover and failback steps, and the actions.
  for (const char* op : {"failover", "failback"}) {
    LL_RETURN_IF_ERROR(
        registry->Register(std::string(op) + ".shutdown", Factory<PlanShutdownStep>(d)));
    const bool failback = std::string(op) == "failback";
    LL_RETURN_IF_ERROR(registry->Register(
        std::string(op) + ".prepare",
        [d, failback](const json& args) -> Result<std::unique_ptr<control::Step>> {
          return std::unique_ptr<control::Step>(new PlanPrepareStep(d, args, failback));
        }));
  }
  LL_RETURN_IF_ERROR(
      registry->Register("failover.start-group", Factory<PlanGroupStep<RecoverStep>>(d)));
  LL_RETURN_IF_ERROR(
      registry->Register("failback.start-group", Factory<PlanGroupStep<FailbackStep>>(d)));
  return Status::Ok();
}

}  // namespace lifeline::vault
