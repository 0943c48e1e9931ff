// Vault::DeleteMachine: removes a protected machine from the vault (catalog rows, agent
// assignment, replication streams, replicas). Thread-safe like the rest of Vault.
#include <nlohmann/json.hpp>

#include "control/catalog.h"
#include "store/replica_store.h"
#include "vault/json_fields.h"
#include "vault/replication_service.h"
#include "vault/vault.h"

namespace lifeline::vault {

using nlohmann::json;

namespace {

constexpr int64_t kStreamEndTimeoutMs = 5000;

// Why the machine cannot be deleted now ("" when it can), with what the operator can do.
std::string Refusal(const control::Machine& m) {
  const std::string& n = m.name;
  if (m.drill_state != "none")
    return "machine " + n + " has a drill (" + m.drill_state +
           "): clean it up first (`lifeline drill cleanup " + n + "`)";
  if (m.state == "failover-in-progress" || m.state == "failed-over")
    return "machine " + n + " is " + m.state + ": cancel the failover (`lifeline failover cancel " +
           n + "`) or commit it (`lifeline failover commit " + n + "`) first";
  if (m.state == "re-protecting")
    return "machine " + n + " is re-protecting: let the re-protect job end first";
  return "";
}

}  // namespace

Result<json> Vault::DeleteMachine(
    const std::string& name, const json& request,
    const std::function<Result<std::vector<std::string>>(const control::Machine&)>& release) {
  LL_RETURN_IF_ERROR(CheckKnownFields(request, {"force", "keep_replica"}));
  LL_ASSIGN_OR_RETURN(const bool force, BoolField(request, "force", false));
  LL_ASSIGN_OR_RETURN(const bool keep_replica, BoolField(request, "keep_replica", false));
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(name));
  // A job still working on the machine would find it gone under its feet: even --force waits.
  for (auto state : {control::JobState::kRunning, control::JobState::kPending}) {
    control::JobFilter filter;
    filter.state = state;
    filter.target = name;
    LL_ASSIGN_OR_RETURN(auto jobs, catalog_->ListJobs(filter));
    if (!jobs.empty())
      return Status::Busy("job " + std::to_string(jobs[0].id) + " (" + jobs[0].kind +
                          ") of machine " + name + " is " +
                          std::string(control::JobStateName(state)) +
                          ": wait for it to end or cancel it (`lifeline job cancel " +
                          std::to_string(jobs[0].id) + "`)");
  }
  const std::string refusal = Refusal(m);
  if (!refusal.empty() && !force)
    return Status::FailedPrecondition(refusal + ", or delete it anyway with --force");
  LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(m.id));
  json steps = json::array();
  if (release) {
    LL_ASSIGN_OR_RETURN(auto done, release(m));
    for (auto& line : done) steps.push_back(std::move(line));
  }
  // The catalog rows first: the agent's assignment goes, and a new HELLO for these disks
  // is refused from here on.
  LL_RETURN_IF_ERROR(catalog_->DeleteMachine(m.id));
  json out_disks = json::array();
  for (const auto& d : disks) {
    {
      std::lock_guard l(mu_);
      reports_.erase(d.store_disk_id);
    }
    json dj = {{"disk_id", d.store_disk_id}, {"path", d.path}};
    Status closed =
        replication_ ? replication_->CloseDisk(d.store_disk_id, kStreamEndTimeoutMs) : Status::Ok();
    if (keep_replica) {
      dj["replica"] = "kept";
    } else if (!closed.ok()) {
      // Never remove files a live stream may still write: kept, and said so.
      dj["replica"] = "kept";
      dj["reason"] = closed.message() + "; remove " + d.store_disk_id +
                     " later by deleting a machine of that name";
    } else {
      Status s = store_->RemoveDisk(d.store_disk_id);
      if (!s.ok() && s.code() != Code::kNotFound)
        return s.WithContext("machine " + name + " deleted, replica of " + d.store_disk_id);
      dj["replica"] = "removed";
    }
    out_disks.push_back(dj);
  }
  (void)catalog_->Audit("admin", "machine.delete", "machine/" + name,
                        std::string(force && !refusal.empty() ? "forced while: " + refusal : "") +
                            (keep_replica ? " replicas kept" : ""));
  return json{{"machine", name},    {"deleted", true},
              {"state", m.state},   {"forced", force && !refusal.empty()},
              {"disks", out_disks}, {"released", steps}};
}

}  // namespace lifeline::vault
