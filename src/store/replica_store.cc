#include "store/replica_store.h"

#include <chrono>
#include <filesystem>
#include <set>

namespace lifeline::store {

Result<std::unique_ptr<ReplicaStore>> ReplicaStore::Open(const std::string& root, DiskOptions options) {
  std::unique_ptr<ReplicaStore> s(new ReplicaStore(root, options));
  if (!options.read_only) LL_RETURN_IF_ERROR(s->fs()->MakeDirs(JoinPath(root, "disks")));
  else if (!s->fs()->Exists(JoinPath(root, "disks")))
    return Status::NotFound(root + " is not a replica store (no disks/ folder)");
  return s;
}

std::string ReplicaStore::DiskDir(const std::string& disk_id) const {
  return JoinPath(JoinPath(root_, "disks"), disk_id);
}

Result<DiskReplica*> ReplicaStore::CreateDisk(const std::string& disk_id, uint64_t size_bytes,
                                              const RetentionPolicy& retention) {
  std::lock_guard l(mu_);
  if (disks_.count(disk_id) || fs()->Exists(JoinPath(DiskDir(disk_id), kManifestFileName)))
    return Status::InvalidArgument("disk " + disk_id + " already exists in " + root_);
  LL_ASSIGN_OR_RETURN(auto d, DiskReplica::Create(DiskDir(disk_id), disk_id, size_bytes, retention, options_));
  DiskReplica* raw = d.get();
  disks_[disk_id] = std::move(d);
  return raw;
}

Result<DiskReplica*> ReplicaStore::Disk(const std::string& disk_id) {
  std::lock_guard l(mu_);
  auto it = disks_.find(disk_id);
  if (it != disks_.end()) return it->second.get();
  if (disk_id.empty() || disk_id.find('/') != std::string::npos || !fs()->Exists(DiskDir(disk_id)))
    return Status::NotFound("no disk '" + disk_id + "' in " + root_);
  LL_ASSIGN_OR_RETURN(auto d, DiskReplica::Open(DiskDir(disk_id), options_));
  DiskReplica* raw = d.get();
  disks_[disk_id] = std::move(d);
  return raw;
}

Status ReplicaStore::RemoveDisk(const std::string& disk_id) {
  std::lock_guard l(mu_);
  if (disk_id.empty() || disk_id.find('/') != std::string::npos || disk_id == "." ||
      disk_id == ".." || !fs()->Exists(DiskDir(disk_id)))
    return Status::NotFound("no disk '" + disk_id + "' in " + root_);
  auto it = disks_.find(disk_id);
  if (it != disks_.end()) {
    removed_.push_back(std::move(it->second));
    disks_.erase(it);
  }
  // Renamed first, so a crash leaves either the whole replica or none under disks/.
  const std::string trash = JoinPath(root_, "removed");
  LL_RETURN_IF_ERROR(fs()->MakeDirs(trash));
  const std::string target = JoinPath(
      trash,
      disk_id + "." + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  LL_RETURN_IF_ERROR(fs()->Rename(DiskDir(disk_id), target));
  LL_RETURN_IF_ERROR(fs()->SyncDir(JoinPath(root_, "disks")));
  std::error_code ec;
  std::filesystem::remove_all(target, ec);
  if (ec) return Status::IOError("cannot remove " + target + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<std::string>> ReplicaStore::DiskIds() const {
  LL_ASSIGN_OR_RETURN(auto names, fs()->List(JoinPath(root_, "disks")));
  std::vector<std::string> ids;
  for (auto& n : names)
    if (fs()->Exists(JoinPath(DiskDir(n), kManifestFileName))) ids.push_back(n);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<GroupPoint> ReplicaStore::AddGroupPoint(const std::string& group_id, const std::string& label,
                                               const std::map<std::string, uint64_t>& seqs,
                                               int64_t time_unix_ns) {
  if (group_id.empty()) return Status::InvalidArgument("a group point needs a consistency group id");
  if (seqs.empty()) return Status::InvalidArgument("a group point needs at least one disk");
  std::vector<std::string> members;
  std::vector<DiskReplica*> disks;
  uint64_t group_point_id = 0;
  for (const auto& [id, seq] : seqs) {
    LL_ASSIGN_OR_RETURN(DiskReplica * d, Disk(id));
    members.push_back(id);
    disks.push_back(d);
    // One id for the whole group point: above every point id any member has used.
    for (const auto& p : d->Points()) group_point_id = std::max(group_point_id, p.group_point_id);
  }
  ++group_point_id;
  GroupPoint gp{group_id, group_point_id, time_unix_ns, label, {}};
  size_t i = 0;
  for (const auto& [id, seq] : seqs) {
    PointRequest req;
    req.seq = seq;
    req.kind = PointKind::kGroup;
    req.label = label;
    req.group_id = group_id;
    req.group_point_id = group_point_id;
    req.group_members = members;
    req.time_unix_ns = time_unix_ns;
    LL_ASSIGN_OR_RETURN(gp.members[id], disks[i++]->AddPoint(req));
  }
  return gp;
}

Result<std::vector<GroupPoint>> ReplicaStore::GroupPoints(const std::string& group_id) {
  std::map<uint64_t, GroupPoint> found;
  LL_ASSIGN_OR_RETURN(auto ids, DiskIds());
  for (const auto& id : ids) {
    LL_ASSIGN_OR_RETURN(DiskReplica * d, Disk(id));
    for (const auto& p : d->Points()) {
      if (p.kind != PointKind::kGroup || p.group_id != group_id) continue;
      auto& gp = found[p.group_point_id];
      gp.group_id = group_id;
      gp.group_point_id = p.group_point_id;
      gp.time_unix_ns = p.time_unix_ns;
      gp.label = p.label;
      gp.members[id] = p;
    }
  }
  std::vector<GroupPoint> out;
  for (auto& entry : found) {
    GroupPoint& gp = entry.second;
    const auto& expected = gp.members.begin()->second.group_members;
    bool complete = expected.size() == gp.members.size() &&
                    std::all_of(expected.begin(), expected.end(), [&](const std::string& m) { return gp.members.count(m) > 0; });
    if (complete) out.push_back(std::move(gp));
  }
  return out;
}

}  // namespace lifeline::store
