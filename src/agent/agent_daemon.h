// The agent daemon: registration with a vault, then a loop that asks the vault which disks
// to protect, replicates each one (scan mode: initial replication, then a cycle every policy
// interval) on its own thread, and reports progress, throughput, ETA and errors back.
// Thread-safe: Stop() may be called from a signal-handling thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace lifeline::wire {
class TokenBucket;
}

namespace lifeline::agent {

struct RegisterRequest {
  std::string vault_url;     // https://host:port of the vault's API
  std::string ca_path;       // the vault's CA certificate (copied from the vault host)
  std::string key;           // one-time registration key
  std::string name;          // agent id
  std::string dir;           // where the agent keeps its identity and state
  std::vector<std::string> replication;  // override the vault's replication addresses
};

struct AgentConfig {
  std::string agent_id;
  std::string vault_url;
  std::string ca_path;
  std::string token;
  std::vector<std::string> replication;  // "host:port", tried in order
  bool insecure = false;
  // Not stored: `agent run --bandwidth`. All disks of the agent share it; 0: unlimited.
  uint64_t bandwidth_limit_bytes_per_second = 0;
};

Result<AgentConfig> RegisterWithVault(const RegisterRequest& request);
Result<AgentConfig> LoadAgentConfig(const std::string& dir);

class AgentDaemon {
 public:
  AgentDaemon(std::string dir, AgentConfig config);
  ~AgentDaemon();
  // Runs until Stop().
  Status Run();
  void Stop();

 private:
  struct Worker;
  void StartWorker(const std::string& assignment_json);
  void ReportOnce();
  // Brings the workers in line with the vault's assignments (a JSON array): starts new
  // disks; restarts a scan-mode disk whose policy changed (its hash map is on disk, nothing
  // is resent); stops a scan-mode disk no longer assigned (failed over, disabled, removed).
  // An nbd-mode disk is the machine's disk: it stays served, and a change or unassignment
  // takes effect when the agent restarts (logged once).
  void Reconcile(const std::string& assignments_json);
  void StopWorker(const std::string& disk_id);

  const std::string dir_;
  const AgentConfig config_;
  std::unique_ptr<wire::TokenBucket> agent_limit_;  // config_.bandwidth_limit_bytes_per_second
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // by disk id
};

}  // namespace lifeline::agent
