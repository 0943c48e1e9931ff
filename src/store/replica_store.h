// ReplicaStore: the vault's set of disk replicas under one root (root/disks/<disk-id>/),
// and consistency-group points that span several disks.
// Thread-safe: disks are opened once and shared; DiskReplica is itself thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/disk_replica.h"

namespace lifeline::store {

struct GroupPoint {
  std::string group_id;
  uint64_t group_point_id = 0;
  int64_t time_unix_ns = 0;
  std::string label;
  std::map<std::string, RecoveryPoint> members;  // disk id -> that disk's point
};

class ReplicaStore {
 public:
  static Result<std::unique_ptr<ReplicaStore>> Open(const std::string& root, DiskOptions options = {});

  Result<DiskReplica*> CreateDisk(const std::string& disk_id, uint64_t size_bytes,
                                  const RetentionPolicy& retention = {});
  Result<DiskReplica*> Disk(const std::string& disk_id);
  Result<std::vector<std::string>> DiskIds() const;
  // Removes a disk's replica: its directory is renamed away (atomic), then deleted. The
  // DiskReplica object stays allocated until the store closes, so a pointer someone still
  // holds never dangles. REQUIRES: nothing writes to the disk any more. NotFound if absent.
  Status RemoveDisk(const std::string& disk_id);
  const std::string& root() const { return root_; }

  // Records a point on every member disk at the given seqs with one group point id. A crash
  // part way leaves a partial group point, which GroupPoints() does not list.
  Result<GroupPoint> AddGroupPoint(const std::string& group_id, const std::string& label,
                                   const std::map<std::string, uint64_t>& seqs, int64_t time_unix_ns);
  // Complete group points of a group (present on every member disk), oldest first.
  Result<std::vector<GroupPoint>> GroupPoints(const std::string& group_id);

 private:
  ReplicaStore(std::string root, DiskOptions options) : root_(std::move(root)), options_(options) {}
  std::string DiskDir(const std::string& disk_id) const;
  FileSystem* fs() const { return options_.fs ? options_.fs : FileSystem::Posix(); }

  const std::string root_;
  const DiskOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<DiskReplica>> disks_;
  std::vector<std::unique_ptr<DiskReplica>> removed_;  // see RemoveDisk
};

}  // namespace lifeline::store
