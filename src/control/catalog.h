// The vault's catalog: sites, protected machines, disks, policies, recovery points,
// consistency groups, recovery plans, jobs with their steps and logs, and the audit log,
// in one SQLite file (WAL, foreign keys, versioned schema with migrations).
// Thread-safe: every call takes the catalog's mutex; other processes (the CLI) may open
// the same file at the same time (SQLite locking, 5 s busy timeout).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "control/netmap.h"

namespace lifeline::control {

class Db;

// Bounds on what the catalog accepts, so no caller can grow it without limit.
inline constexpr size_t kMaxNameBytes = 128;
inline constexpr size_t kMaxTextBytes = 64 * 1024;        // labels, configs, messages
inline constexpr size_t kMaxPlanYamlBytes = 1024 * 1024;  // a stored recovery plan
inline constexpr int kMaxLogLinesPerJob = 10000;
inline constexpr size_t kMaxLogLineBytes = 4096;
inline constexpr int kMaxStepsPerJob = 1000;
inline constexpr int kMaxListRows = 10000;
inline constexpr int kMaxTagsPerPoint = 32;
inline constexpr int kMaxNicsPerMachine = 16;
inline constexpr int kMaxStreamsPerDisk = 32;  // UploadThreadsPerVM maximum (dr-anchors §1.4)
// Site Recovery's multi-VM consistency groups hold at most 16 machines (dr-anchors §1.6);
// a group point holds every member's writes for a moment, so the bound protects them.
inline constexpr int kMaxMachinesPerGroup = 16;
inline constexpr int kMaxNetworkMappings = 1000;
inline constexpr int kMaxReservedPerNetwork = 256;
inline constexpr int kMaxStaticIps = 10000;

struct Site {
  int64_t id = 0;
  std::string name;
  std::string role;     // "primary" or "recovery"
  std::string address;  // host:port of the site's vault or agent
};

struct Policy {
  int64_t id = 0;
  std::string name;
  int64_t retention_seconds = 24 * 3600;
  int64_t crash_point_interval_seconds = 300;
  int64_t app_point_interval_seconds = 0;  // 0: app-consistent points off
  std::string app_pre_hook;                // freeze
  std::string app_post_hook;               // thaw
  int64_t rpo_warning_seconds = 30 * 60;
  int64_t rpo_critical_seconds = 60 * 60;
  int streams = 4;                               // per disk, 1..32
  std::string compression = "none";              // none | lz4 | zstd
  int64_t bandwidth_limit_bytes_per_second = 0;  // 0: unlimited
};

struct Nic {
  int index = 0;
  std::string network;  // source network name
  std::string ip;       // source IP ("" for DHCP)
  std::string mac;
};

struct Machine {
  int64_t id = 0;
  std::string name;
  int64_t site_id = 0;
  int64_t policy_id = 0;              // 0: none
  int64_t group_id = 0;               // consistency group, 0: none
  std::string state = "enabling";     // lifecycle.h MachineState names
  std::string direction = "forward";  // "reverse" after a re-protect from the recovery site
  std::string drill_state = "none";   // lifecycle.h DrillState names
  std::string launcher = "qemu";
  std::string launcher_config = "{}";  // JSON object
  int cpus = 1;
  int memory_mib = 512;
  std::vector<Nic> nics;
  int64_t updated_unix_nanos = 0;
  std::string capture_mode = "scan";  // scan | nbd
  std::string capture_config = "{}";  // JSON object: nbd_listen, point_interval_s
};

struct Disk {
  int64_t id = 0;
  int64_t machine_id = 0;
  std::string path;
  uint64_t size_bytes = 0;
  std::string store_disk_id;
};

struct Point {
  int64_t id = 0;
  int64_t disk_id = 0;
  uint64_t seq = 0;
  int64_t time_unix_nanos = 0;
  std::string kind = "crash-consistent";  // crash-consistent | app-consistent | pit
  std::string label;
  int64_t group_id = 0;           // consistency group the point was taken with, 0: none
  std::string group_point;        // shared id of the points taken together, "" if none
  std::vector<std::string> tags;  // e.g. "tested-at=2026-11-23T07:00:00Z"
};

struct ConsistencyGroup {
  int64_t id = 0;
  std::string name;
  int64_t point_interval_seconds = 0;  // group points on a schedule; 0: only on demand
};

struct PlanRecord {
  int64_t id = 0;
  std::string name;
  std::string yaml;
  std::string parsed_json;  // the validated plan as JSON (plan.h PlanToJson)
  int64_t updated_unix_nanos = 0;
};

enum class JobState : uint8_t { kPending, kRunning, kDone, kFailed, kCancelled, kRolledBack };
enum class StepState : uint8_t { kPending, kRunning, kDone, kFailed, kRolledBack, kSkipped };
std::string_view JobStateName(JobState s);
std::string_view StepStateName(StepState s);
Result<JobState> ParseJobState(std::string_view s);
Result<StepState> ParseStepState(std::string_view s);
// Done, failed, cancelled and rolled-back jobs never run again.
bool IsFinal(JobState s);

struct JobStep {
  int64_t job_id = 0;
  int index = 0;
  std::string name;   // registered step name (jobs.h StepRegistry)
  std::string title;  // human description
  std::string args_json = "{}";
  StepState state = StepState::kPending;
  int progress_percent = 0;
  std::string error;
  int attempts = 0;
  int64_t started_unix_nanos = 0;
  int64_t finished_unix_nanos = 0;
};

struct Job {
  int64_t id = 0;
  std::string kind;    // drill, failover, commit, reprotect, failback, plan-run, ...
  std::string target;  // machine or plan name
  std::string params_json = "{}";
  JobState state = JobState::kPending;
  bool cancel_requested = false;
  bool rollback_on_failure = true;
  std::string error;
  int64_t created_unix_nanos = 0;
  int64_t started_unix_nanos = 0;
  int64_t finished_unix_nanos = 0;
  std::vector<JobStep> steps;  // filled by GetJob, empty in ListJobs
  // Overall progress from the steps: done steps count 100, the running one its percent.
  int ProgressPercent() const;
};

struct JobLogLine {
  int64_t id = 0;
  int64_t job_id = 0;
  int step_index = -1;  // -1: the job itself
  int64_t time_unix_nanos = 0;
  std::string level;  // info | warn | error
  std::string text;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t time_unix_nanos = 0;
  std::string actor;
  std::string action;  // e.g. "machine.state"
  std::string object;  // e.g. "machine/web1"
  std::string detail;
};

// A recovered machine a launcher started (drill, failover, failback).
struct Instance {
  int64_t id = 0;
  int64_t machine_id = 0;
  std::string operation;
  int64_t pid = 0;
  std::string log_path;
  std::string command;  // the launched command line, for the operator
  std::string ips;      // assigned addresses, comma-separated
  int64_t started_unix_nanos = 0;
};

struct JobFilter {
  std::optional<JobState> state;
  std::string kind;
  std::string target;
  int limit = 100;
};

class Catalog {
 public:
  static constexpr int kSchemaVersion = 4;

  // Opens or creates the catalog and applies pending migrations. `clock` must outlive it;
  // nullptr means the system clock.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path, Clock* clock = nullptr);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  Result<int> SchemaVersion();
  Clock* clock() const { return clock_; }

  // Sites
  Result<int64_t> AddSite(const Site& site);
  Result<Site> GetSite(const std::string& name);
  Result<std::vector<Site>> ListSites();

  // Policies (validated: streams 1..32, thresholds ordered, intervals sane)
  Result<int64_t> AddPolicy(const Policy& policy);
  Status UpdatePolicy(const Policy& policy);
  Result<Policy> GetPolicy(int64_t id);
  Result<Policy> GetPolicyByName(const std::string& name);
  Result<std::vector<Policy>> ListPolicies();

  // Consistency groups
  Result<int64_t> AddGroup(const std::string& name);
  Result<ConsistencyGroup> GetGroup(const std::string& name);
  Result<std::vector<ConsistencyGroup>> ListGroups();
  Status SetGroupPointInterval(const std::string& name, int64_t seconds);

  // Machines (NICs stored with the machine)
  Result<int64_t> AddMachine(const Machine& machine);
  Result<Machine> GetMachine(int64_t id);
  Result<Machine> GetMachineByName(const std::string& name);
  Result<std::vector<Machine>> ListMachines();
  Status UpdateMachineConfig(
      const Machine& machine);  // policy, group, launcher, cpus, memory, NICs
  // Compare-and-set of the lifecycle fields: fails with FailedPrecondition when the stored
  // state is no longer `expected_state` (another actor moved the machine meanwhile).
  Status SetMachineState(int64_t id, const std::string& expected_state, const std::string& state,
                         const std::string& direction);
  Status SetDrillState(int64_t id, const std::string& expected, const std::string& drill_state);
  // The capture mode (scan | nbd) and its settings (a JSON object).
  Status SetMachineCapture(int64_t id, const std::string& mode, const std::string& config_json);
  Status DeleteMachine(int64_t id);

  // Disks
  Result<int64_t> AddDisk(const Disk& disk);
  Result<std::vector<Disk>> ListDisks(int64_t machine_id);
  Result<Disk> GetDisk(int64_t id);
  Status SetDiskSize(int64_t id, uint64_t size_bytes);  // the source disk grew

  // Recovery points
  Result<int64_t> AddPoint(const Point& point);
  Result<std::vector<Point>> ListPoints(int64_t disk_id, int limit = 1000);
  Result<Point> GetPoint(int64_t id);
  Status AddPointTag(int64_t point_id, const std::string& tag);
  // Drops points of a disk below `seq` (retention); returns how many went.
  Result<int> DeletePointsBefore(int64_t disk_id, uint64_t seq);

  // Recovery plans
  Status PutPlan(const PlanRecord& plan);  // insert or replace by name
  Result<PlanRecord> GetPlan(const std::string& name);
  Result<std::vector<PlanRecord>> ListPlans();
  Status DeletePlan(const std::string& name);

  // Jobs
  Result<int64_t> CreateJob(const Job& job, const std::vector<JobStep>& steps);
  Result<Job> GetJob(int64_t id);
  Result<std::vector<Job>> ListJobs(const JobFilter& filter);
  Result<std::vector<Job>> ListUnfinishedJobs();  // pending or running, oldest first
  Status SetJobState(int64_t id, JobState state, const std::string& error = "");
  Status RequestCancel(int64_t id);  // FailedPrecondition if the job already finished
  Result<bool> CancelRequested(int64_t id);
  Status UpdateStep(const JobStep& step);  // state, progress, error, attempts, times
  Status SetStepProgress(int64_t job_id, int index, int percent);
  Status AppendLog(int64_t job_id, int step_index, const std::string& level,
                   const std::string& text);
  Result<std::vector<JobLogLine>> GetLog(int64_t job_id, int64_t after_id = 0, int limit = 1000);

  // Signals: `lifeline plan continue` posts one for a job's waiting manual step.
  Status PostSignal(int64_t job_id, int step_index, const std::string& name);
  // Returns true and removes the signal if it was posted.
  Result<bool> TakeSignal(int64_t job_id, int step_index, const std::string& name);

  // Network mapping (netmap.h): each source network's recovery and drill networks, and
  // static addresses per machine NIC. Validated on write: subnets, gateways and reserved
  // addresses inside their subnet; a static address inside the target subnet of that NIC's
  // network when the NIC and its mapping exist.
  Status PutNetworkMapping(const NetworkMapping& mapping);  // insert or replace by source
  Result<std::vector<NetworkMapping>> ListNetworkMappings();
  Status DeleteNetworkMapping(const std::string& source);
  Status PutStaticIp(const StaticIpRule& rule);  // insert or replace by machine, NIC, mode
  Result<std::vector<StaticIpRule>> ListStaticIps(const std::string& machine = "");
  Status DeleteStaticIp(const std::string& machine, int nic_index, NetworkMode mode);
  // Every mapping and static rule, ready to assign addresses.
  Result<NetworkMap> LoadNetworkMap();

  // Recovered machines started by launchers. machine_id 0 / operation "": all.
  Result<int64_t> AddInstance(const Instance& instance);
  Result<std::vector<Instance>> ListInstances(int64_t machine_id,
                                              const std::string& operation = "");
  Status DeleteInstance(int64_t id);

  // Audit log (bounded: the oldest entries beyond kMaxAuditRows are pruned)
  static constexpr int kMaxAuditRows = 100000;
  Status Audit(const std::string& actor, const std::string& action, const std::string& object,
               const std::string& detail);
  Result<std::vector<AuditEntry>> ListAudit(const std::string& object_prefix = "", int limit = 100);

 private:
  Catalog(std::unique_ptr<Db> db, Clock* clock);
  Status Migrate();
  Status PutNicsLocked(int64_t machine_id, const std::vector<Nic>& nics);
  Status CheckGroupRoomLocked(int64_t group_id, int64_t machine_id);
  Result<Machine> ReadMachineLocked(const std::string& where, int64_t id, const std::string& name);
  Result<std::vector<JobStep>> ReadStepsLocked(int64_t job_id);
  int64_t Now() const { return clock_->NowUnixNanos(); }

  std::mutex mu_;
  std::unique_ptr<Db> db_;
  Clock* clock_;
  int64_t audit_inserts_ = 0;
};

}  // namespace lifeline::control
