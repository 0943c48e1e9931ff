// The drain of a planned failover. See planned_drain.h.
#include "vault/planned_drain.h"

#include <algorithm>
#include <chrono>

#include "common/clock.h"

namespace lifeline::vault {

using control::MachineEvent;
using nlohmann::json;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// An unsigned field of an object, 0 when missing or of another type (agents' reports are
// input: never an exception).
uint64_t U64(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return 0;
  return j[key].is_number_unsigned() || j[key].get<int64_t>() >= 0 ? j[key].get<uint64_t>() : 0;
}
std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

uint64_t DrainRequestIn(const json& capture) { return U64(capture, "drain_request"); }

std::string AgentOf(control::Catalog* catalog, const control::Machine& m) {
  auto sites = catalog->ListSites();
  if (sites.ok())
    for (const auto& s : *sites)
      if (s.id == m.site_id) return s.name;
  return "of " + m.name;
}

struct DrainDisk {
  std::string disk_id;
  store::DiskReplica* replica = nullptr;
  bool answered = false;  // the agent reported a state for this request
  bool drained = false;
  uint64_t seq = 0;  // the drained seq the agent reported
};

class DrainStep final : public control::Step {
 public:
  DrainStep(RecoveryDeps d, json args) : d_(std::move(d)), args_(std::move(args)) {}
  bool Resumable() const override { return true; }  // the request is in the catalog

  Status Run(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    LL_ASSIGN_OR_RETURN(auto m, d_.catalog->GetMachineByName(name));
    LL_ASSIGN_OR_RETURN(auto state, control::ParseMachineState(m.state));
    LL_ASSIGN_OR_RETURN(auto drill, control::ParseDrillState(m.drill_state));
    LL_RETURN_IF_ERROR(
        control::NextState(name, state, MachineEvent::kFailoverStart, drill).status());
    LL_ASSIGN_OR_RETURN(auto disks, d_.catalog->ListDisks(m.id));
    std::vector<DrainDisk> drain;
    for (const auto& disk : disks) {
      DrainDisk dd;
      dd.disk_id = disk.store_disk_id;
      LL_ASSIGN_OR_RETURN(dd.replica, d_.store->Disk(disk.store_disk_id));
      drain.push_back(dd);
    }
    if (!d_.options.agent_report) return InferDrain(ctx, m, drain);
    return AgentDrain(ctx, m, drain);
  }

  Status Rollback(control::StepContext& ctx) override {
    const std::string name = args_.value("machine", "");
    auto m = d_.catalog->GetMachineByName(name);
    // A failover that did not happen: the source may run again.
    if (m.ok() && m->state == control::StateName(control::MachineState::kProtected))
      return ClearDrainRequest(d_, ctx, name);
    return Status::Ok();
  }

 private:
  // How long the agent has to answer: a scan-mode agent looks at its assignments every 2 s
  // and then runs a whole cycle.
  int64_t TimeoutMs(const control::Machine& m) const {
    int64_t interval_ms = 0;
    if (m.policy_id != 0) {
      auto policy = d_.catalog->GetPolicy(m.policy_id);
      if (policy.ok()) interval_ms = policy->crash_point_interval_seconds * 1000;
    }
    const int64_t cycles = std::max<int64_t>(1, args_.value("drain_cycles", int64_t{1}));
    return interval_ms > 0
               ? std::max(d_.options.drain_timeout_ms, (cycles + 1) * interval_ms + 10000)
               : d_.options.drain_timeout_ms;
  }

  // The agent drains: a request in the machine's capture config reaches it with its
  // assignments; its reports answer "draining", then "drained" with the seq of its final
  // point (nbd mode: after the fence; scan mode: a whole cycle after the request).
  Status AgentDrain(control::StepContext& ctx, const control::Machine& m,
                    std::vector<DrainDisk>& disks) {
    json capture = CaptureConfigOf(m);
    uint64_t request = DrainRequestIn(capture);
    const std::string agent = AgentOf(d_.catalog, m);
    if (request == 0) {
      request = static_cast<uint64_t>(Clock::System()->NowUnixNanos());
      capture["drain_request"] = request;
      LL_RETURN_IF_ERROR(d_.catalog->SetMachineCapture(m.id, m.capture_mode, capture.dump()));
      ctx.Log("planned failover: asked agent " + agent + " to drain every disk of " + m.name +
              " (request " + std::to_string(request) + ", " + m.capture_mode + " mode)");
    } else {
      ctx.Log("planned failover: waiting for agent " + agent + " to answer drain request " +
              std::to_string(request));
    }
    const int64_t timeout_ms = TimeoutMs(m);
    int64_t deadline = SteadyMs() + timeout_ms;
    uint64_t progress = UINT64_MAX;
    while (true) {
      bool all = true, all_answered = true;
      uint64_t now_progress = 0;
      for (auto& dd : disks) {
        json report = d_.options.agent_report(dd.disk_id);
        json dj = report.is_object() && report.contains("drain") ? report["drain"] : json();
        if (U64(dj, "request") == request) {
          if (!dd.answered) ctx.Log(dd.disk_id + ": agent " + agent + " is draining");
          dd.answered = true;
          if (Str(dj, "state") == "drained" && !dd.drained) {
            dd.drained = true;
            dd.seq = U64(dj, "seq");
            ctx.Log(dd.disk_id + ": agent " + agent + " drained at seq " + std::to_string(dd.seq));
          }
        }
        all_answered &= dd.answered;
        all &= dd.drained && dd.replica->durable_seq() >= dd.seq;
        now_progress += dd.replica->durable_seq() + (dd.answered ? 1 : 0) + (dd.drained ? 1 : 0) +
                        U64(report, "acked_seq") + U64(report, "bytes_done");
      }
      if (all) break;
      // Once every disk answered, the wait goes on while the drain makes progress.
      if (all_answered && now_progress != progress) deadline = SteadyMs() + timeout_ms;
      progress = now_progress;
      if (SteadyMs() > deadline) {
        for (const auto& dd : disks) {
          if (!dd.answered)
            return Status::Busy("agent " + agent + " did not confirm the drain of disk " +
                                dd.disk_id + " within " + std::to_string(timeout_ms / 1000) +
                                " s: is it running? An unplanned failover needs no source.");
          if (!dd.drained || dd.replica->durable_seq() < dd.seq)
            return Status::Busy("agent " + agent + " is draining disk " + dd.disk_id +
                                " but made no progress for " + std::to_string(timeout_ms / 1000) +
                                " s: look at the agent's log (the replica holds seq " +
                                std::to_string(dd.replica->durable_seq()) + ")");
        }
      }
      if (!ctx.SleepMs(50)) return Status::Busy("stopped while draining");
    }
    for (auto& dd : disks) LL_RETURN_IF_ERROR(FinalPoint(ctx, dd, dd.seq));
    return Status::Ok();
  }

  // The final point at exactly `seq` (the agent's own drain point when it has arrived).
  Status FinalPoint(control::StepContext& ctx, const DrainDisk& dd, uint64_t seq) {
    if (seq == 0) {  // nothing was ever written: the empty replica is the disk
      ctx.Log(dd.disk_id + ": nothing was written, no final point");
      return Status::Ok();
    }
    for (const auto& p : dd.replica->Points()) {
      if (p.seq != seq) continue;
      ctx.Log(dd.disk_id + ": final point " + std::to_string(p.id) + " at seq " +
              std::to_string(seq));
      return Status::Ok();
    }
    store::PointRequest req;
    req.seq = seq;
    req.label = "planned failover";
    LL_ASSIGN_OR_RETURN(auto p, dd.replica->AddPoint(req));
    ctx.Log(dd.disk_id + ": final point " + std::to_string(p.id) + " at seq " +
            std::to_string(p.seq));
    return Status::Ok();
  }

  // Without an agent channel (RecoveryOps used on its own, as in unit tests; a vault always
  // has one) the drain is inferred from the replica: a capture cycle that ended after the
  // drain began, then `drain_quiet_ms` without writes, everything durable.
  Status InferDrain(control::StepContext& ctx, const control::Machine& m,
                    std::vector<DrainDisk>& disks) {
    const int64_t cycles = std::max<int64_t>(1, args_.value("drain_cycles", int64_t{1}));
    const int64_t timeout_ms = TimeoutMs(m);
    std::vector<uint64_t> start_point(disks.size(), 0);
    for (size_t i = 0; i < disks.size(); ++i)
      for (const auto& p : disks[i].replica->Points())
        start_point[i] = std::max(start_point[i], p.id);
    ctx.Log("planned failover: no agent channel; waiting for a capture cycle and " +
            std::to_string(d_.options.drain_quiet_ms) + " ms without writes (at most " +
            std::to_string(timeout_ms / 1000) + " s)");
    const int64_t deadline = SteadyMs() + timeout_ms;
    // An idle source's cycle ends with a point the store already has; the point messages
    // count it. The first message may end a cycle that began before the drain, hence one more.
    const auto& messages = d_.options.points_received;
    std::vector<uint64_t> start_messages(disks.size(), 0);
    for (size_t i = 0; i < disks.size(); ++i)
      if (messages) start_messages[i] = messages(disks[i].disk_id);
    std::vector<uint64_t> last(disks.size(), UINT64_MAX);
    int64_t quiet_since = SteadyMs();
    while (true) {
      bool moved = false, cycled = true;
      for (size_t i = 0; i < disks.size(); ++i) {
        store::DiskReplica* r = disks[i].replica;
        uint64_t durable = r->durable_seq();
        if (durable != r->appended_seq() || durable != last[i]) moved = true;
        last[i] = durable;
        int64_t newer = 0;
        for (const auto& p : r->Points()) newer += p.id > start_point[i] ? 1 : 0;
        const int64_t cycle_ends =
            messages ? int64_t(messages(disks[i].disk_id) - start_messages[i]) : 0;
        if (newer < cycles && cycle_ends < cycles + 1) cycled = false;
      }
      if (moved) quiet_since = SteadyMs();
      if (cycled && SteadyMs() - quiet_since >= d_.options.drain_quiet_ms) break;
      if (SteadyMs() > deadline)
        return Status::Busy(
            "the source of " + m.name +
            (cycled ? " is still sending writes: shut it down before a planned failover"
                    : " sent no complete capture cycle: is its agent running? (an unplanned "
                      "failover needs no source)"));
      if (!ctx.SleepMs(50)) return Status::Busy("stopped while draining");
    }
    for (auto& dd : disks) LL_RETURN_IF_ERROR(FinalPoint(ctx, dd, dd.replica->durable_seq()));
    return Status::Ok();
  }

  RecoveryDeps d_;
  json args_;
};

}  // namespace

control::StepFactory DrainStepFactory(const RecoveryDeps& deps) {
  return [deps](const json& args) -> Result<std::unique_ptr<control::Step>> {
    return std::unique_ptr<control::Step>(new DrainStep(deps, args));
  };
}

Status ClearDrainRequest(const RecoveryDeps& d, control::StepContext& ctx,
                         const std::string& machine) {
  LL_ASSIGN_OR_RETURN(auto m, d.catalog->GetMachineByName(machine));
  json capture = CaptureConfigOf(m);
  if (DrainRequestIn(capture) == 0) return Status::Ok();
  capture.erase("drain_request");
  LL_RETURN_IF_ERROR(d.catalog->SetMachineCapture(m.id, m.capture_mode, capture.dump()));
  ctx.Log(machine + ": drain request lifted: the agent takes the source's writes again");
  return Status::Ok();
}

}  // namespace lifeline::vault
