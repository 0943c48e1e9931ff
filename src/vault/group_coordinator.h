// GroupCoordinator: consistency-group points across machines (agents). For one group point
// it asks the agent of every member disk, over that disk's replication session, to hold
// write completions (GROUP_HOLD, at most 50 ms, then the agent releases by itself); each
// answers with the seq of its newest completed write when its hold began. Once every member
// held, it ends the holds (GROUP_RELEASE); each agent says whether its hold was still in
// force then. Only if every hold was, the holds overlapped in time — there was a moment at
// which no member could complete a write — so the seqs together are one crash-consistent
// state of the group, and the point is recorded on every member disk with one group point
// id (once each seq is durable). Otherwise the attempt is aborted: nothing is recorded.
// Thread-safe: TakePoint may run concurrently for different groups; one at a time per group.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"

namespace lifeline::vault {

struct GroupPointOptions {
  uint32_t max_hold_ms = 50;           // per-agent hold bound (the wire refuses more)
  int64_t release_timeout_ms = 2000;   // wait for the agents' GROUP_RELEASED
  int64_t durable_timeout_ms = 30000;  // wait for every member's seq to become durable
};

struct GroupPointOutcome {
  std::string group_id;
  uint64_t group_point_id = 0;
  int64_t time_unix_ns = 0;
  std::map<std::string, uint64_t> seqs;    // disk id -> seq of the point
  std::map<std::string, int64_t> held_us;  // disk id -> how long its agent held completions
  int64_t coordination_us = 0;             // first HOLD sent .. last RELEASED received
};

class GroupCoordinator {
 public:
  // REQUIRES: both outlive the coordinator.
  GroupCoordinator(ReplicationService* service, store::ReplicaStore* store)
      : service_(service), store_(store) {}

  // Takes one group point over `disk_ids` (the store disk ids of every member machine's
  // disks). FailedPrecondition when a member cannot take a point now (not connected, not in
  // nbd mode, resyncing), Busy when a member did not answer in time or its hold expired
  // before the release: in both cases nothing was recorded and every hold was released.
  Result<GroupPointOutcome> TakePoint(const std::string& group_id,
                                      const std::vector<std::string>& disk_ids,
                                      const std::string& label,
                                      const GroupPointOptions& options = {});

 private:
  ReplicationService* const service_;
  store::ReplicaStore* const store_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::set<std::string> busy_groups_;
};

}  // namespace lifeline::vault
