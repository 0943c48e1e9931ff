// Vault: the recovery site's daemon. Owns the replica store, the catalog, the PKI, the
// replication listener and the operations behind the REST API (agent registration,
// protect, machine status with health and RPO, points, agent assignments and reports).
// Thread-safe: API handlers and replication streams call in concurrently.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace lifeline::control {
class Catalog;
class Lifecycle;
struct Machine;
}  // namespace lifeline::control
namespace lifeline::store {
class ReplicaStore;
}

namespace lifeline::vault {

class ReplicationService;
class GroupCoordinator;

struct VaultInitResult {
  std::string admin_token;       // shown once; only its hash is stored
  std::string registration_key;  // one-time key for the first agent
  std::string ca_cert_path;      // what agents need to trust the vault
};

struct VaultOptions {
  std::string dir;
  std::string replication_listen = "127.0.0.1:0";
  std::string api_listen = "127.0.0.1:0";
  bool insecure = false;          // plain TCP replication (never the default)
  int64_t retention_interval_s = 60;
  std::string network_driver;     // plan network actions: command:PATH | lab:NAME (recovery_ops.h)
  // Nice value (0..19, 20 = idle class) of the replication data path (connections, decoding,
  // journal appends): for a vault that shares its host with protected machines, whose own
  // I/O should come first.
  int replication_nice = 0;
};

class Vault {
 public:
  // Creates DIR/pki (CA, server certificate, admin token), DIR/store, DIR/catalog.db with a
  // default policy, and a registration key. Refuses a directory that already holds a vault.
  static Result<VaultInitResult> Init(const std::string& dir, const std::vector<std::string>& server_names);
  static Result<std::unique_ptr<Vault>> Open(const VaultOptions& options);
  ~Vault();

  // Starts the replication listener and the background work (retention, health).
  Status StartReplication();
  void Stop();
  uint16_t replication_port() const;
  // Writes DIR/run/endpoints.json so clients on this host can find the ports.
  Status WriteEndpoints(uint16_t api_port) const;
  const VaultOptions& options() const { return options_; }
  std::string pki_dir() const;

  // --- operations behind the REST API (JSON in, JSON out) ---
  Result<bool> IsAdminToken(const std::string& token) const;
  Result<std::string> AgentForToken(const std::string& token) const;  // agent id
  Result<nlohmann::json> RegisterAgent(const nlohmann::json& request);
  Result<nlohmann::json> CreateRegistrationKey();
  Result<nlohmann::json> Protect(const nlohmann::json& request);
  Result<nlohmann::json> ListMachines();
  Result<nlohmann::json> MachineStatus(const std::string& name);
  Result<nlohmann::json> Points(const std::string& machine);
  Result<nlohmann::json> Assignments(const std::string& agent_id);
  Status Report(const std::string& agent_id, const nlohmann::json& report);
  Result<nlohmann::json> Health();
  // Creates or updates a replication policy: {name, interval_s, streams, compression,
  // retention_s, rpo_warning_s, rpo_critical_s, bandwidth_limit_bytes_per_s, pre_hook, post_hook}.
  Result<nlohmann::json> PutPolicy(const nlohmann::json& request);
  Result<nlohmann::json> ListPolicies();
  // Consistency groups of machines (nbd mode) and their group points:
  // {name, machines: [...], point_interval_s} creates a group and puts the machines in it.
  Result<nlohmann::json> CreateGroup(const nlohmann::json& request);
  Result<nlohmann::json> ListGroups();
  // Takes a group point now ({label}); FailedPrecondition/Busy when it was aborted.
  Result<nlohmann::json> TakeGroupPoint(const std::string& group, const nlohmann::json& request);
  Result<nlohmann::json> GroupPoints(const std::string& group);
  // Removes a machine: {force, keep_replica}. Refused (FailedPrecondition, naming the state
  // and what to do) while a drill runs, during a failover or re-protect, unless `force`; a
  // job of the machine still running is Busy even then. `release` stops the machine's
  // recovery (copies, exports, DIR/recovery/MACHINE) first; then the catalog rows go (the
  // agent's assignment with them), the disks' replication streams end and, unless
  // `keep_replica`, their replicas are removed from the store.
  Result<nlohmann::json> DeleteMachine(
      const std::string& name, const nlohmann::json& request,
      const std::function<Result<std::vector<std::string>>(const control::Machine&)>& release);

  store::ReplicaStore* store() { return store_.get(); }
  // Point messages received for a disk since the vault started (0 without replication).
  uint64_t PointsReceived(const std::string& disk_id) const;
  // The agent's latest report of a disk (null before the first since the vault started).
  nlohmann::json AgentReport(const std::string& disk_id) const;
  control::Catalog* catalog() { return catalog_.get(); }

 private:
  explicit Vault(VaultOptions options);
  void BackgroundLoop();
  void GroupScheduleLoop();
  Status MigrateCaptureModesFile();
  Result<std::vector<std::string>> GroupDisks(int64_t group_id);
  Result<nlohmann::json> DiskStatus(const std::string& machine, int64_t disk_id);

  const VaultOptions options_;
  std::unique_ptr<control::Catalog> catalog_;
  std::unique_ptr<control::Lifecycle> lifecycle_;
  std::unique_ptr<store::ReplicaStore> store_;
  std::unique_ptr<ReplicationService> replication_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::map<std::string, nlohmann::json> group_status_;  // group -> last scheduled attempt
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> reports_;  // store disk id -> latest agent report
  std::atomic<bool> stop_{false};
  std::thread background_;
  std::thread group_thread_;
};

}  // namespace lifeline::vault
