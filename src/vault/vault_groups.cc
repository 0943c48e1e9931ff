// Vault operations on consistency groups of machines: create, list, take a group point now,
// list complete group points, and the schedule thread that takes them every group's
// interval. The coordination itself is GroupCoordinator (group_coordinator.h).
// Thread-safe like the rest of Vault.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/units.h"
#include "control/catalog.h"
#include "store/replica_store.h"
#include "vault/group_coordinator.h"
#include "vault/vault.h"

namespace lifeline::vault {

using nlohmann::json;

namespace {
constexpr char kLog[] = "group";

json OutcomeJson(const GroupPointOutcome& o) {
  json members = json::array();
  for (const auto& [id, seq] : o.seqs)
    members.push_back(
        {{"disk_id", id}, {"seq", seq}, {"held_us", o.held_us.count(id) ? o.held_us.at(id) : 0}});
  return {{"group", o.group_id},
          {"group_point_id", o.group_point_id},
          {"time", FormatTime(o.time_unix_ns)},
          {"members", members},
          {"coordination_us", o.coordination_us}};
}
}  // namespace

Result<std::vector<std::string>> Vault::GroupDisks(int64_t group_id) {
  std::vector<std::string> out;
  LL_ASSIGN_OR_RETURN(auto machines, catalog_->ListMachines());
  for (const auto& m : machines) {
    if (m.group_id != group_id) continue;
    LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(m.id));
    for (const auto& d : disks) out.push_back(d.store_disk_id);
  }
  return out;
}

Result<json> Vault::CreateGroup(const json& req) {
  if (!req.is_object() || !req.contains("name") || !req["name"].is_string() ||
      !req.contains("machines") || !req["machines"].is_array() || req["machines"].empty())
    return Status::InvalidArgument("a group needs a name and a non-empty machines list");
  std::string name = req["name"];
  int64_t interval = 0;
  if (req.contains("point_interval_s")) {
    if (!req["point_interval_s"].is_number_integer())
      return Status::InvalidArgument("point_interval_s must be an integer");
    interval = req["point_interval_s"].get<int64_t>();
  }
  if (req["machines"].size() > size_t(control::kMaxMachinesPerGroup))
    return Status::InvalidArgument("a group holds at most " +
                                   std::to_string(control::kMaxMachinesPerGroup) + " machines");
  std::vector<control::Machine> members;
  for (const auto& j : req["machines"]) {
    if (!j.is_string()) return Status::InvalidArgument("machines must be names");
    LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(j.get<std::string>()));
    if (m.capture_mode != "nbd")
      return Status::FailedPrecondition("machine " + m.name + " is in " + m.capture_mode +
                                        " mode: group points need nbd mode (continuous capture)");
    if (m.group_id != 0)
      return Status::FailedPrecondition("machine " + m.name + " is already in a consistency group");
    members.push_back(std::move(m));
  }
  LL_ASSIGN_OR_RETURN(int64_t id, catalog_->AddGroup(name));
  LL_RETURN_IF_ERROR(catalog_->SetGroupPointInterval(name, interval));
  for (auto& m : members) {
    m.group_id = id;
    LL_RETURN_IF_ERROR(catalog_->UpdateMachineConfig(m));
  }
  (void)catalog_->Audit("admin", "group.create", "group/" + name, "");
  LL_ASSIGN_OR_RETURN(json all, ListGroups());
  for (const auto& g : all)
    if (g["name"] == name) return g;
  return Status::NotFound("group " + name + " vanished");
}

Result<json> Vault::ListGroups() {
  LL_ASSIGN_OR_RETURN(auto groups, catalog_->ListGroups());
  LL_ASSIGN_OR_RETURN(auto machines, catalog_->ListMachines());
  json out = json::array();
  for (const auto& g : groups) {
    json names = json::array();
    for (const auto& m : machines)
      if (m.group_id == g.id) names.push_back(m.name);
    json entry = {
        {"name", g.name}, {"machines", names}, {"point_interval_s", g.point_interval_seconds}};
    auto points = store_->GroupPoints(g.name);
    if (points.ok()) {
      entry["points"] = points->size();
      if (!points->empty()) entry["newest_point"] = FormatTime(points->back().time_unix_ns);
    }
    std::lock_guard l(mu_);
    auto it = group_status_.find(g.name);
    if (it != group_status_.end()) entry["last_attempt"] = it->second;
    out.push_back(std::move(entry));
  }
  return out;
}

Result<json> Vault::TakeGroupPoint(const std::string& group, const json& req) {
  if (!groups_) return Status::FailedPrecondition("replication is not running");
  LL_ASSIGN_OR_RETURN(auto g, catalog_->GetGroup(group));
  LL_ASSIGN_OR_RETURN(auto disks, GroupDisks(g.id));
  std::string label = req.is_object() ? req.value("label", "") : "";
  LL_ASSIGN_OR_RETURN(auto outcome, groups_->TakePoint(group, disks, label));
  return OutcomeJson(outcome);
}

Result<json> Vault::GroupPoints(const std::string& group) {
  LL_RETURN_IF_ERROR(catalog_->GetGroup(group).status());
  LL_ASSIGN_OR_RETURN(auto points, store_->GroupPoints(group));
  json out = json::array();
  for (const auto& p : points) {
    json members = json::array();
    for (const auto& [id, rp] : p.members)
      members.push_back({{"disk_id", id}, {"seq", rp.seq}, {"point_id", rp.id}});
    out.push_back({{"group_point_id", p.group_point_id},
                   {"time", FormatTime(p.time_unix_ns)},
                   {"label", p.label},
                   {"members", members}});
  }
  return out;
}

// Takes each group's points every point_interval_s; a failed attempt is logged, shown by
// `group list`, and retried at the next tick of the interval.
void Vault::GroupScheduleLoop() {
  std::map<std::string, int64_t> last_ms;
  auto now_ms = [] { return Clock::System()->MonotonicNanos() / 1'000'000; };
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto groups = catalog_->ListGroups();
    if (!groups.ok()) continue;
    for (const auto& g : *groups) {
      if (stop_) break;
      if (g.point_interval_seconds <= 0) continue;
      auto it = last_ms.find(g.name);
      if (it != last_ms.end() && now_ms() - it->second < g.point_interval_seconds * 1000) continue;
      last_ms[g.name] = now_ms();
      auto disks = GroupDisks(g.id);
      if (!disks.ok()) continue;
      auto r = groups_->TakePoint(g.name, *disks, "scheduled");
      json status = {{"time", FormatTime(Clock::System()->NowUnixNanos())}, {"ok", r.ok()}};
      if (r.ok()) {
        status["group_point_id"] = r->group_point_id;
      } else {
        status["error"] = r.status().ToString();
        log::Warn(kLog, "scheduled group point of " + g.name + ": " + r.status().ToString());
      }
      std::lock_guard l(mu_);
      group_status_[g.name] = status;
    }
  }
}

}  // namespace lifeline::vault
