#include "control/catalog.h"

#include <algorithm>
#include <cctype>

#include "control/sqlite.h"

namespace lifeline::control {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append-only: a released migration never changes; a new schema is a new entry.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE sites(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK(role IN ('primary','recovery')), address TEXT NOT NULL);
CREATE TABLE policies(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  retention_seconds INTEGER NOT NULL, crash_point_interval_seconds INTEGER NOT NULL,
  app_point_interval_seconds INTEGER NOT NULL, app_pre_hook TEXT NOT NULL,
  app_post_hook TEXT NOT NULL, rpo_warning_seconds INTEGER NOT NULL,
  rpo_critical_seconds INTEGER NOT NULL, streams INTEGER NOT NULL CHECK(streams BETWEEN 1 AND 32),
  compression TEXT NOT NULL, bandwidth_limit_bytes_per_second INTEGER NOT NULL);
CREATE TABLE consistency_groups(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE machines(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  site_id INTEGER REFERENCES sites(id), policy_id INTEGER REFERENCES policies(id),
  group_id INTEGER REFERENCES consistency_groups(id), state TEXT NOT NULL,
  direction TEXT NOT NULL, drill_state TEXT NOT NULL, launcher TEXT NOT NULL,
  launcher_config TEXT NOT NULL, cpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  updated INTEGER NOT NULL);
CREATE TABLE nics(machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, network TEXT NOT NULL, ip TEXT NOT NULL, mac TEXT NOT NULL,
  PRIMARY KEY(machine_id, idx));
CREATE TABLE disks(id INTEGER PRIMARY KEY,
  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  path TEXT NOT NULL, size_bytes INTEGER NOT NULL, store_disk_id TEXT NOT NULL,
  UNIQUE(machine_id, path));
CREATE TABLE points(id INTEGER PRIMARY KEY,
  disk_id INTEGER NOT NULL REFERENCES disks(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  time INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
  group_id INTEGER REFERENCES consistency_groups(id), group_point TEXT NOT NULL);
CREATE INDEX points_disk_seq ON points(disk_id, seq);
CREATE TABLE point_tags(point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
  tag TEXT NOT NULL, PRIMARY KEY(point_id, tag));
CREATE TABLE plans(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, yaml TEXT NOT NULL,
  parsed TEXT NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE jobs(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL,
  params TEXT NOT NULL, state TEXT NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0,
  rollback_on_failure INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL, started INTEGER NOT NULL DEFAULT 0,
  finished INTEGER NOT NULL DEFAULT 0, log_lines INTEGER NOT NULL DEFAULT 0);
CREATE INDEX jobs_state ON jobs(state, id);
CREATE TABLE job_steps(job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, name TEXT NOT NULL, title TEXT NOT NULL, args TEXT NOT NULL,
  state TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0, started INTEGER NOT NULL DEFAULT 0,
  finished INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(job_id, idx));
CREATE TABLE job_log(id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
  time INTEGER NOT NULL, level TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX job_log_job ON job_log(job_id, id);
CREATE TABLE job_signals(job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL, name TEXT NOT NULL, time INTEGER NOT NULL,
  PRIMARY KEY(job_id, step, name));
CREATE TABLE audit(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, object TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_object ON audit(object, id);
)sql"},
    // 2: recovered machines the launchers started, so cleanup and restarts can find them.
    {2, R"sql(
CREATE TABLE instances(id INTEGER PRIMARY KEY,
  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  operation TEXT NOT NULL, pid INTEGER NOT NULL, log_path TEXT NOT NULL,
  command TEXT NOT NULL, ips TEXT NOT NULL, started INTEGER NOT NULL);
CREATE INDEX instances_machine ON instances(machine_id, operation);
)sql"},
    // 3: group points on a schedule; the capture mode (scan | nbd) and its settings per machine.
    {3, R"sql(
ALTER TABLE consistency_groups ADD COLUMN point_interval_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machines ADD COLUMN capture_mode TEXT NOT NULL DEFAULT 'scan';
ALTER TABLE machines ADD COLUMN capture_config TEXT NOT NULL DEFAULT '{}';
)sql"},
    // 4: network mapping: recovery and drill network per source network, static addresses.
    {4, R"sql(
CREATE TABLE network_mappings(source TEXT PRIMARY KEY,
  recovery_network TEXT NOT NULL, recovery_subnet TEXT NOT NULL,
  recovery_gateway TEXT NOT NULL, recovery_reserved TEXT NOT NULL,
  drill_network TEXT NOT NULL, drill_subnet TEXT NOT NULL,
  drill_gateway TEXT NOT NULL, drill_reserved TEXT NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE static_ips(machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  nic INTEGER NOT NULL, mode TEXT NOT NULL, ip TEXT NOT NULL, PRIMARY KEY(machine_id, nic, mode));
)sql"},
};

Status CheckName(std::string_view what, const std::string& name) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name is empty");
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(std::string(what) + " name longer than 128 bytes");
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return Status::InvalidArgument(std::string(what) + " name '" + name +
                                     "' may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return Status::Ok();
}

Status CheckText(std::string_view what, const std::string& text, size_t max = kMaxTextBytes) {
  if (text.size() > max) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(text.size()) +
                                   " bytes, more than the limit of " + std::to_string(max));
  }
  return Status::Ok();
}

void BindId(Stmt& s, int index, int64_t id) {
  if (id == 0) {
    s.BindNull(index);
  } else {
    s.Bind(index, id);
  }
}

Status CheckPolicy(const Policy& p) {
  LL_RETURN_IF_ERROR(CheckName("policy", p.name));
  constexpr int64_t kDay = 24 * 3600;
  if (p.retention_seconds < 0 || p.retention_seconds > 365 * kDay) {
    return Status::InvalidArgument("policy " + p.name + ": retention must be 0..365 days");
  }
  if (p.crash_point_interval_seconds < 1 || p.crash_point_interval_seconds > kDay) {
    return Status::InvalidArgument("policy " + p.name +
                                   ": crash-consistent point interval must be 1 s..1 day");
  }
  if (p.app_point_interval_seconds != 0 &&
      (p.app_point_interval_seconds < 60 || p.app_point_interval_seconds > 12 * 3600)) {
    return Status::InvalidArgument("policy " + p.name +
                                   ": app-consistent interval must be 0 (off) or 60 s..12 h");
  }
  if (p.app_point_interval_seconds != 0 && p.retention_seconds != 0 &&
      p.app_point_interval_seconds > p.retention_seconds) {
    return Status::InvalidArgument("policy " + p.name +
                                   ": app-consistent interval longer than the retention window");
  }
  if (p.rpo_warning_seconds <= 0 || p.rpo_critical_seconds < p.rpo_warning_seconds) {
    return Status::InvalidArgument("policy " + p.name +
                                   ": RPO thresholds need 0 < warning <= critical");
  }
  if (p.streams < 1 || p.streams > kMaxStreamsPerDisk) {
    return Status::InvalidArgument("policy " + p.name + ": streams must be 1..32, got " +
                                   std::to_string(p.streams));
  }
  if (p.compression != "none" && p.compression != "lz4" && p.compression != "zstd") {
    return Status::InvalidArgument("policy " + p.name + ": compression must be none, lz4 or zstd");
  }
  if (p.bandwidth_limit_bytes_per_second < 0) {
    return Status::InvalidArgument("policy " + p.name + ": bandwidth limit is negative");
  }
  LL_RETURN_IF_ERROR(CheckText("app pre hook", p.app_pre_hook, 4096));
  LL_RETURN_IF_ERROR(CheckText("app post hook", p.app_post_hook, 4096));
  return Status::Ok();
}

Status CheckMac(const std::string& what, const std::string& mac);

Status CheckMachine(const Machine& m) {
  LL_RETURN_IF_ERROR(CheckName("machine", m.name));
  LL_RETURN_IF_ERROR(CheckName("launcher", m.launcher));
  LL_RETURN_IF_ERROR(CheckText("launcher config", m.launcher_config));
  if (m.cpus < 1 || m.cpus > 256)
    return Status::InvalidArgument("machine " + m.name + ": cpus must be 1..256");
  if (m.memory_mib < 16 || m.memory_mib > 16 * 1024 * 1024) {
    return Status::InvalidArgument("machine " + m.name + ": memory must be 16 MiB..16 TiB");
  }
  if (m.nics.size() > static_cast<size_t>(kMaxNicsPerMachine)) {
    return Status::InvalidArgument("machine " + m.name + ": more than 16 NICs");
  }
  for (const Nic& n : m.nics) {
    const std::string nic = "machine " + m.name + " NIC " + std::to_string(n.index);
    if (n.index < 0 || n.index >= kMaxNicsPerMachine)
      return Status::InvalidArgument(nic + ": the index must be 0..15");
    LL_RETURN_IF_ERROR(CheckName("network", n.network));
    LL_RETURN_IF_ERROR(CheckText("NIC ip", n.ip, 64));
    if (!n.ip.empty()) {
      auto ip = IpAddress::Parse(n.ip);
      if (!ip.ok()) return ip.status().WithContext(nic);
    }
    LL_RETURN_IF_ERROR(CheckMac(nic, n.mac));
  }
  return Status::Ok();
}

// "" or six colon-separated hex octets.
Status CheckMac(const std::string& what, const std::string& mac) {
  if (mac.empty()) return Status::Ok();
  bool ok = mac.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    ok = (i % 3 == 2) ? mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(mac[i])) != 0;
  }
  if (!ok) {
    return Status::InvalidArgument(what + ": MAC '" + mac.substr(0, 64) +
                                   "' is not six hex octets like 52:54:00:12:34:56");
  }
  return Status::Ok();
}

std::string JoinAddresses(const std::set<IpAddress>& ips) {
  std::string out;
  for (const IpAddress& ip : ips) out += (out.empty() ? "" : ",") + ip.ToString();
  return out;
}

Result<TargetNetwork> ReadTarget(const Stmt& s, int col) {
  TargetNetwork t;
  t.name = s.Text(col);
  LL_ASSIGN_OR_RETURN(t.subnet, Cidr::Parse(s.Text(col + 1)));
  if (!s.Text(col + 2).empty()) {
    LL_ASSIGN_OR_RETURN(IpAddress gw, IpAddress::Parse(s.Text(col + 2)));
    t.gateway = gw;
  }
  const std::string reserved = s.Text(col + 3);
  size_t start = 0;
  while (start < reserved.size()) {
    size_t end = reserved.find(',', start);
    if (end == std::string::npos) end = reserved.size();
    LL_ASSIGN_OR_RETURN(IpAddress ip, IpAddress::Parse(reserved.substr(start, end - start)));
    t.reserved.insert(ip);
    start = end + 1;
  }
  return t;
}

constexpr const char* kPolicyColumns =
    "id, name, retention_seconds, crash_point_interval_seconds, app_point_interval_seconds, "
    "app_pre_hook, app_post_hook, rpo_warning_seconds, rpo_critical_seconds, streams, "
    "compression, bandwidth_limit_bytes_per_second";

Policy ReadPolicy(const Stmt& s) {
  Policy p;
  p.id = s.Int(0);
  p.name = s.Text(1);
  p.retention_seconds = s.Int(2);
  p.crash_point_interval_seconds = s.Int(3);
  p.app_point_interval_seconds = s.Int(4);
  p.app_pre_hook = s.Text(5);
  p.app_post_hook = s.Text(6);
  p.rpo_warning_seconds = s.Int(7);
  p.rpo_critical_seconds = s.Int(8);
  p.streams = static_cast<int>(s.Int(9));
  p.compression = s.Text(10);
  p.bandwidth_limit_bytes_per_second = s.Int(11);
  return p;
}

constexpr const char* kMachineColumns =
    "id, name, COALESCE(site_id,0), COALESCE(policy_id,0), COALESCE(group_id,0), state, "
    "direction, drill_state, launcher, launcher_config, cpus, memory_mib, updated, capture_mode, "
    "capture_config";

Machine ReadMachineRow(const Stmt& s) {
  Machine m;
  m.id = s.Int(0);
  m.name = s.Text(1);
  m.site_id = s.Int(2);
  m.policy_id = s.Int(3);
  m.group_id = s.Int(4);
  m.state = s.Text(5);
  m.direction = s.Text(6);
  m.drill_state = s.Text(7);
  m.launcher = s.Text(8);
  m.launcher_config = s.Text(9);
  m.cpus = static_cast<int>(s.Int(10));
  m.memory_mib = static_cast<int>(s.Int(11));
  m.updated_unix_nanos = s.Int(12);
  m.capture_mode = s.Text(13);
  m.capture_config = s.Text(14);
  return m;
}

constexpr const char* kJobColumns =
    "id, kind, target, params, state, cancel_requested, rollback_on_failure, error, created, "
    "started, finished";

Result<Job> ReadJobRow(const Stmt& s) {
  Job j;
  j.id = s.Int(0);
  j.kind = s.Text(1);
  j.target = s.Text(2);
  j.params_json = s.Text(3);
  LL_ASSIGN_OR_RETURN(j.state, ParseJobState(s.Text(4)));
  j.cancel_requested = s.Int(5) != 0;
  j.rollback_on_failure = s.Int(6) != 0;
  j.error = s.Text(7);
  j.created_unix_nanos = s.Int(8);
  j.started_unix_nanos = s.Int(9);
  j.finished_unix_nanos = s.Int(10);
  return j;
}

template <typename T>
Result<std::vector<T>> CollectRows(Stmt& s, T (*read)(const Stmt&)) {
  std::vector<T> out;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(read(s));
  }
  return out;
}

constexpr std::string_view kJobStateNames[] = {"pending", "running",   "done",
                                               "failed",  "cancelled", "rolled-back"};
constexpr std::string_view kStepStateNames[] = {"pending", "running",     "done",
                                                "failed",  "rolled-back", "skipped"};

}  // namespace

std::string_view JobStateName(JobState s) { return kJobStateNames[static_cast<int>(s)]; }
std::string_view StepStateName(StepState s) { return kStepStateNames[static_cast<int>(s)]; }

Result<JobState> ParseJobState(std::string_view s) {
  for (size_t i = 0; i < std::size(kJobStateNames); ++i) {
    if (kJobStateNames[i] == s) return static_cast<JobState>(i);
  }
  return Status::InvalidArgument("unknown job state '" + std::string(s) +
                                 "' (pending, running, done, failed, cancelled, rolled-back)");
}

Result<StepState> ParseStepState(std::string_view s) {
  for (size_t i = 0; i < std::size(kStepStateNames); ++i) {
    if (kStepStateNames[i] == s) return static_cast<StepState>(i);
  }
  return Status::Corruption("catalog: unknown step state '" + std::string(s) + "'");
}

bool IsFinal(JobState s) { return s != JobState::kPending && s != JobState::kRunning; }

int Job::ProgressPercent() const {
  if (steps.empty()) return state == JobState::kDone ? 100 : 0;
  int64_t total = 0;
  for (const JobStep& s : steps) {
    if (s.state == StepState::kDone || s.state == StepState::kSkipped) {
      total += 100;
    } else if (s.state == StepState::kRunning) {
      total += std::clamp(s.progress_percent, 0, 100);
    }
  }
  return static_cast<int>(total / static_cast<int64_t>(steps.size()));
}

Catalog::Catalog(std::unique_ptr<Db> db, Clock* clock) : db_(std::move(db)), clock_(clock) {}
Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path, Clock* clock) {
  LL_ASSIGN_OR_RETURN(auto db, Db::Open(path));
  // WAL lets the CLI read while the vault writes; FULL sync makes every committed step
  // state durable, which job resume after a crash relies on.
  LL_RETURN_IF_ERROR(
      db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
               "PRAGMA foreign_keys=ON;"));
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(db), clock ? clock : Clock::System()));
  LL_RETURN_IF_ERROR(catalog->Migrate().WithContext("catalog " + path));
  return catalog;
}

Status Catalog::Migrate() {
  std::lock_guard lock(mu_);
  LL_RETURN_IF_ERROR(
      db_->Exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  int version = 0;
  {
    LL_ASSIGN_OR_RETURN(Stmt s,
                        db_->Prepare("SELECT COALESCE(MAX(version),0) FROM schema_version"));
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) version = static_cast<int>(s.Int(0));
  }
  if (version > kSchemaVersion) {
    return Status::FailedPrecondition("schema version " + std::to_string(version) +
                                      " is newer than this lifeline understands (" +
                                      std::to_string(kSchemaVersion) + "): upgrade lifeline");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    LL_RETURN_IF_ERROR(db_->Exec(m.sql).WithContext("migration " + std::to_string(m.version)));
    LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO schema_version(version) VALUES(?)"));
    LL_RETURN_IF_ERROR(s.Bind(1, static_cast<int64_t>(m.version)).Run());
  }
  return tx.Commit();
}

Result<int> Catalog::SchemaVersion() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT COALESCE(MAX(version),0) FROM schema_version"));
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<int>(s.Int(0)) : 0;
}

// ---- sites ----

Result<int64_t> Catalog::AddSite(const Site& site) {
  LL_RETURN_IF_ERROR(CheckName("site", site.name));
  if (site.role != "primary" && site.role != "recovery") {
    return Status::InvalidArgument("site " + site.name + ": role must be primary or recovery");
  }
  LL_RETURN_IF_ERROR(CheckText("site address", site.address, 512));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO sites(name, role, address) VALUES(?,?,?)"));
  Status st = s.Bind(1, site.name).Bind(2, site.role).Bind(3, site.address).Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::FailedPrecondition("site " + site.name + " already exists");
  LL_RETURN_IF_ERROR(st);
  return db_->LastInsertId();
}

Result<Site> Catalog::GetSite(const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("SELECT id, name, role, address FROM sites WHERE name=?"));
  s.Bind(1, name);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("site " + name + " not found");
  return Site{s.Int(0), s.Text(1), s.Text(2), s.Text(3)};
}

Result<std::vector<Site>> Catalog::ListSites() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT id, name, role, address FROM sites ORDER BY name LIMIT 10000"));
  return CollectRows<Site>(s, [](const Stmt& r) {
    return Site{r.Int(0), r.Text(1), r.Text(2), r.Text(3)};
  });
}

// ---- policies ----

Result<int64_t> Catalog::AddPolicy(const Policy& p) {
  LL_RETURN_IF_ERROR(CheckPolicy(p));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT INTO policies(name, retention_seconds, crash_point_interval_seconds, "
                   "app_point_interval_seconds, app_pre_hook, app_post_hook, rpo_warning_seconds, "
                   "rpo_critical_seconds, streams, compression, bandwidth_limit_bytes_per_second) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
  Status st = s.Bind(1, p.name)
                  .Bind(2, p.retention_seconds)
                  .Bind(3, p.crash_point_interval_seconds)
                  .Bind(4, p.app_point_interval_seconds)
                  .Bind(5, p.app_pre_hook)
                  .Bind(6, p.app_post_hook)
                  .Bind(7, p.rpo_warning_seconds)
                  .Bind(8, p.rpo_critical_seconds)
                  .Bind(9, static_cast<int64_t>(p.streams))
                  .Bind(10, p.compression)
                  .Bind(11, p.bandwidth_limit_bytes_per_second)
                  .Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::FailedPrecondition("policy " + p.name + " already exists");
  LL_RETURN_IF_ERROR(st);
  return db_->LastInsertId();
}

Status Catalog::UpdatePolicy(const Policy& p) {
  LL_RETURN_IF_ERROR(CheckPolicy(p));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "UPDATE policies SET name=?, retention_seconds=?, crash_point_interval_seconds=?, "
          "app_point_interval_seconds=?, app_pre_hook=?, app_post_hook=?, rpo_warning_seconds=?, "
          "rpo_critical_seconds=?, streams=?, compression=?, bandwidth_limit_bytes_per_second=? "
          "WHERE id=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, p.name)
                         .Bind(2, p.retention_seconds)
                         .Bind(3, p.crash_point_interval_seconds)
                         .Bind(4, p.app_point_interval_seconds)
                         .Bind(5, p.app_pre_hook)
                         .Bind(6, p.app_post_hook)
                         .Bind(7, p.rpo_warning_seconds)
                         .Bind(8, p.rpo_critical_seconds)
                         .Bind(9, static_cast<int64_t>(p.streams))
                         .Bind(10, p.compression)
                         .Bind(11, p.bandwidth_limit_bytes_per_second)
                         .Bind(12, p.id)
                         .Run());
  if (db_->Changes() == 0) return Status::NotFound("policy " + std::to_string(p.id) + " not found");
  return Status::Ok();
}

Result<Policy> Catalog::GetPolicy(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare(std::string("SELECT ") + kPolicyColumns + " FROM policies WHERE id=?"));
  s.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("policy " + std::to_string(id) + " not found");
  return ReadPolicy(s);
}

Result<Policy> Catalog::GetPolicyByName(const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kPolicyColumns +
                                           " FROM policies WHERE name=?"));
  s.Bind(1, name);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("policy " + name + " not found");
  return ReadPolicy(s);
}

Result<std::vector<Policy>> Catalog::ListPolicies() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kPolicyColumns +
                                           " FROM policies ORDER BY name LIMIT 10000"));
  return CollectRows<Policy>(s, ReadPolicy);
}

// ---- consistency groups ----

Result<int64_t> Catalog::AddGroup(const std::string& name) {
  LL_RETURN_IF_ERROR(CheckName("consistency group", name));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO consistency_groups(name) VALUES(?)"));
  Status st = s.Bind(1, name).Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::FailedPrecondition("consistency group " + name + " already exists");
  LL_RETURN_IF_ERROR(st);
  return db_->LastInsertId();
}

Result<ConsistencyGroup> Catalog::GetGroup(const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT id, name, point_interval_seconds FROM consistency_groups WHERE name=?"));
  s.Bind(1, name);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("consistency group " + name + " not found");
  return ConsistencyGroup{s.Int(0), s.Text(1), s.Int(2)};
}

Status Catalog::SetGroupPointInterval(const std::string& name, int64_t seconds) {
  if (seconds < 0 || seconds > 24 * 3600)
    return Status::InvalidArgument("group point interval must be 0 (off) .. 1 day");
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("UPDATE consistency_groups SET point_interval_seconds=? WHERE name=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, seconds).Bind(2, name).Run());
  if (db_->Changes() == 0) return Status::NotFound("consistency group " + name + " not found");
  return Status::Ok();
}

Status Catalog::SetMachineCapture(int64_t id, const std::string& mode, const std::string& config_json) {
  if (mode != "scan" && mode != "nbd") return Status::InvalidArgument("capture mode must be scan or nbd, not '" + mode + "'");
  LL_RETURN_IF_ERROR(CheckText("capture config", config_json));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("UPDATE machines SET capture_mode=?, capture_config=?, updated=? WHERE id=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, mode).Bind(2, config_json).Bind(3, Now()).Bind(4, id).Run());
  if (db_->Changes() == 0) return Status::NotFound("machine " + std::to_string(id) + " not found");
  return Status::Ok();
}

Result<std::vector<ConsistencyGroup>> Catalog::ListGroups() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT id, name, point_interval_seconds FROM consistency_groups ORDER BY name LIMIT 10000"));
  return CollectRows<ConsistencyGroup>(s, [](const Stmt& r) {
    return ConsistencyGroup{r.Int(0), r.Text(1), r.Int(2)};
  });
}

// ---- machines ----

Status Catalog::PutNicsLocked(int64_t machine_id, const std::vector<Nic>& nics) {
  {
    LL_ASSIGN_OR_RETURN(Stmt d, db_->Prepare("DELETE FROM nics WHERE machine_id=?"));
    LL_RETURN_IF_ERROR(d.Bind(1, machine_id).Run());
  }
  for (const Nic& n : nics) {
    LL_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("INSERT INTO nics(machine_id, idx, network, ip, mac) VALUES(?,?,?,?,?)"));
    Status st = s.Bind(1, machine_id)
                    .Bind(2, static_cast<int64_t>(n.index))
                    .Bind(3, n.network)
                    .Bind(4, n.ip)
                    .Bind(5, n.mac)
                    .Run();
    if (st.code() == Code::kFailedPrecondition) {
      return Status::InvalidArgument("NIC index " + std::to_string(n.index) + " given twice");
    }
    LL_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Status Catalog::CheckGroupRoomLocked(int64_t group_id, int64_t machine_id) {
  if (group_id == 0) return Status::Ok();
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT COUNT(*), (SELECT name FROM consistency_groups WHERE id=?1) "
                           "FROM machines WHERE group_id=?1 AND id<>?2"));
  s.Bind(1, group_id).Bind(2, machine_id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row && s.Int(0) >= kMaxMachinesPerGroup) {
    return Status::FailedPrecondition("consistency group " + s.Text(1) + " already holds " +
                                      std::to_string(kMaxMachinesPerGroup) +
                                      " machines, the most a group may hold: put the machine in "
                                      "another group, or split the application");
  }
  return Status::Ok();
}

Result<int64_t> Catalog::AddMachine(const Machine& m) {
  LL_RETURN_IF_ERROR(CheckMachine(m));
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  LL_RETURN_IF_ERROR(CheckGroupRoomLocked(m.group_id, 0));
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "INSERT INTO machines(name, site_id, policy_id, group_id, state, direction, drill_state, "
          "launcher, launcher_config, cpus, memory_mib, updated, capture_mode, capture_config) "
          "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  s.Bind(1, m.name);
  BindId(s, 2, m.site_id);
  BindId(s, 3, m.policy_id);
  BindId(s, 4, m.group_id);
  s.Bind(5, m.state)
      .Bind(6, m.direction)
      .Bind(7, m.drill_state)
      .Bind(8, m.launcher)
      .Bind(9, m.launcher_config)
      .Bind(10, static_cast<int64_t>(m.cpus))
      .Bind(11, static_cast<int64_t>(m.memory_mib))
      .Bind(12, Now())
      .Bind(13, m.capture_mode)
      .Bind(14, m.capture_config);
  Status st = s.Run();
  if (st.code() == Code::kFailedPrecondition) {
    return Status::FailedPrecondition("machine " + m.name +
                                      " already exists, or its site, policy or group does not");
  }
  LL_RETURN_IF_ERROR(st);
  int64_t id = db_->LastInsertId();
  LL_RETURN_IF_ERROR(PutNicsLocked(id, m.nics));
  LL_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<Machine> Catalog::ReadMachineLocked(const std::string& where, int64_t id,
                                           const std::string& name) {
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kMachineColumns +
                                           " FROM machines WHERE " + where));
  if (where == "id=?") {
    s.Bind(1, id);
  } else {
    s.Bind(1, name);
  }
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row)
    return Status::NotFound("machine " + (name.empty() ? std::to_string(id) : name) + " not found");
  Machine m = ReadMachineRow(s);
  LL_ASSIGN_OR_RETURN(
      Stmt n,
      db_->Prepare("SELECT idx, network, ip, mac FROM nics WHERE machine_id=? ORDER BY idx"));
  n.Bind(1, m.id);
  while (true) {
    LL_ASSIGN_OR_RETURN(bool more, n.Step());
    if (!more) break;
    m.nics.push_back(Nic{static_cast<int>(n.Int(0)), n.Text(1), n.Text(2), n.Text(3)});
  }
  return m;
}

Result<Machine> Catalog::GetMachine(int64_t id) {
  std::lock_guard lock(mu_);
  return ReadMachineLocked("id=?", id, "");
}

Result<Machine> Catalog::GetMachineByName(const std::string& name) {
  std::lock_guard lock(mu_);
  return ReadMachineLocked("name=?", 0, name);
}

Result<std::vector<Machine>> Catalog::ListMachines() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mu_);
    LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT id FROM machines ORDER BY name LIMIT 10000"));
    while (true) {
      LL_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ids.push_back(s.Int(0));
    }
  }
  std::vector<Machine> out;
  for (int64_t id : ids) {
    auto m = GetMachine(id);
    if (m.ok()) out.push_back(std::move(*m));  // a machine deleted meanwhile is skipped
  }
  return out;
}

Status Catalog::UpdateMachineConfig(const Machine& m) {
  LL_RETURN_IF_ERROR(CheckMachine(m));
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  LL_RETURN_IF_ERROR(CheckGroupRoomLocked(m.group_id, m.id));
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "UPDATE machines SET policy_id=?, group_id=?, launcher=?, launcher_config=?, cpus=?, "
          "memory_mib=?, updated=? WHERE id=?"));
  BindId(s, 1, m.policy_id);
  BindId(s, 2, m.group_id);
  s.Bind(3, m.launcher)
      .Bind(4, m.launcher_config)
      .Bind(5, static_cast<int64_t>(m.cpus))
      .Bind(6, static_cast<int64_t>(m.memory_mib))
      .Bind(7, Now())
      .Bind(8, m.id);
  LL_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() == 0) return Status::NotFound("machine " + m.name + " not found");
  LL_RETURN_IF_ERROR(PutNicsLocked(m.id, m.nics));
  return tx.Commit();
}

Status Catalog::SetMachineState(int64_t id, const std::string& expected_state,
                                const std::string& state, const std::string& direction) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("UPDATE machines SET state=?, direction=?, updated=? WHERE id=? AND state=?"));
  LL_RETURN_IF_ERROR(
      s.Bind(1, state).Bind(2, direction).Bind(3, Now()).Bind(4, id).Bind(5, expected_state).Run());
  if (db_->Changes() == 0) {
    return Status::FailedPrecondition("machine " + std::to_string(id) + " is no longer in state " +
                                      expected_state + " (changed meanwhile, or gone)");
  }
  return Status::Ok();
}

Status Catalog::SetDrillState(int64_t id, const std::string& expected,
                              const std::string& drill_state) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("UPDATE machines SET drill_state=?, updated=? WHERE id=? AND drill_state=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, drill_state).Bind(2, Now()).Bind(3, id).Bind(4, expected).Run());
  if (db_->Changes() == 0) {
    return Status::FailedPrecondition("machine " + std::to_string(id) +
                                      " drill state is no longer " + expected);
  }
  return Status::Ok();
}

Status Catalog::DeleteMachine(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM machines WHERE id=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, id).Run());
  if (db_->Changes() == 0) return Status::NotFound("machine " + std::to_string(id) + " not found");
  return Status::Ok();
}

// ---- disks ----

Status Catalog::SetDiskSize(int64_t id, uint64_t size_bytes) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("UPDATE disks SET size_bytes=? WHERE id=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, static_cast<int64_t>(size_bytes)).Bind(2, id).Run());
  if (db_->Changes() == 0) return Status::NotFound("disk " + std::to_string(id) + " not found");
  return Status::Ok();
}

Result<int64_t> Catalog::AddDisk(const Disk& d) {
  LL_RETURN_IF_ERROR(CheckText("disk path", d.path, 4096));
  if (d.path.empty()) return Status::InvalidArgument("disk path is empty");
  LL_RETURN_IF_ERROR(CheckText("store disk id", d.store_disk_id, 256));
  if (d.size_bytes > static_cast<uint64_t>(INT64_MAX))
    return Status::InvalidArgument("disk size too large");
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "INSERT INTO disks(machine_id, path, size_bytes, store_disk_id) VALUES(?,?,?,?)"));
  Status st = s.Bind(1, d.machine_id)
                  .Bind(2, d.path)
                  .Bind(3, static_cast<int64_t>(d.size_bytes))
                  .Bind(4, d.store_disk_id)
                  .Run();
  if (st.code() == Code::kFailedPrecondition) {
    return Status::FailedPrecondition("disk " + d.path + ": machine missing or disk already added");
  }
  LL_RETURN_IF_ERROR(st);
  return db_->LastInsertId();
}

Result<std::vector<Disk>> Catalog::ListDisks(int64_t machine_id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("SELECT id, machine_id, path, size_bytes, store_disk_id FROM "
                                   "disks WHERE machine_id=? ORDER BY id LIMIT 10000"));
  s.Bind(1, machine_id);
  return CollectRows<Disk>(s, [](const Stmt& r) {
    return Disk{r.Int(0), r.Int(1), r.Text(2), static_cast<uint64_t>(r.Int(3)), r.Text(4)};
  });
}

Result<Disk> Catalog::GetDisk(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("SELECT id, machine_id, path, size_bytes, store_disk_id FROM disks WHERE id=?"));
  s.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("disk " + std::to_string(id) + " not found");
  return Disk{s.Int(0), s.Int(1), s.Text(2), static_cast<uint64_t>(s.Int(3)), s.Text(4)};
}

// ---- points ----

Result<int64_t> Catalog::AddPoint(const Point& p) {
  if (p.kind != "crash-consistent" && p.kind != "app-consistent" && p.kind != "pit") {
    return Status::InvalidArgument("point kind must be crash-consistent, app-consistent or pit");
  }
  LL_RETURN_IF_ERROR(CheckText("point label", p.label, 1024));
  if (p.tags.size() > static_cast<size_t>(kMaxTagsPerPoint))
    return Status::InvalidArgument("more than 32 tags on a point");
  if (p.seq > static_cast<uint64_t>(INT64_MAX))
    return Status::InvalidArgument("point seq too large");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO points(disk_id, seq, time, kind, label, "
                                           "group_id, group_point) VALUES(?,?,?,?,?,?,?)"));
  s.Bind(1, p.disk_id)
      .Bind(2, static_cast<int64_t>(p.seq))
      .Bind(3, p.time_unix_nanos)
      .Bind(4, p.kind)
      .Bind(5, p.label);
  BindId(s, 6, p.group_id);
  s.Bind(7, p.group_point);
  Status st = s.Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::NotFound("disk " + std::to_string(p.disk_id) + " not found");
  LL_RETURN_IF_ERROR(st);
  int64_t id = db_->LastInsertId();
  for (const std::string& tag : p.tags) {
    LL_RETURN_IF_ERROR(CheckText("tag", tag, 256));
    LL_ASSIGN_OR_RETURN(
        Stmt t, db_->Prepare("INSERT OR IGNORE INTO point_tags(point_id, tag) VALUES(?,?)"));
    LL_RETURN_IF_ERROR(t.Bind(1, id).Bind(2, tag).Run());
  }
  LL_RETURN_IF_ERROR(tx.Commit());
  return id;
}

namespace {
Point ReadPointRow(const Stmt& s) {
  Point p;
  p.id = s.Int(0);
  p.disk_id = s.Int(1);
  p.seq = static_cast<uint64_t>(s.Int(2));
  p.time_unix_nanos = s.Int(3);
  p.kind = s.Text(4);
  p.label = s.Text(5);
  p.group_id = s.Int(6);
  p.group_point = s.Text(7);
  std::string tags = s.Text(8);  // joined with '\n' (tags never hold newlines: CheckText'd text)
  size_t start = 0;
  while (!tags.empty() && start <= tags.size()) {
    size_t end = tags.find('\n', start);
    if (end == std::string::npos) end = tags.size();
    p.tags.push_back(tags.substr(start, end - start));
    start = end + 1;
  }
  return p;
}
constexpr const char* kPointSelect =
    "SELECT p.id, p.disk_id, p.seq, p.time, p.kind, p.label, COALESCE(p.group_id,0), "
    "p.group_point, "
    "COALESCE((SELECT group_concat(tag, char(10)) FROM point_tags t WHERE t.point_id=p.id),'') "
    "FROM points p ";
}  // namespace

Result<std::vector<Point>> Catalog::ListPoints(int64_t disk_id, int limit) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string(kPointSelect) +
                                           "WHERE p.disk_id=? ORDER BY p.seq DESC LIMIT ?"));
  s.Bind(1, disk_id).Bind(2, static_cast<int64_t>(std::clamp(limit, 1, kMaxListRows)));
  return CollectRows<Point>(s, ReadPointRow);
}

Result<Point> Catalog::GetPoint(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string(kPointSelect) + "WHERE p.id=?"));
  s.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("recovery point " + std::to_string(id) + " not found");
  return ReadPointRow(s);
}

Status Catalog::AddPointTag(int64_t point_id, const std::string& tag) {
  LL_RETURN_IF_ERROR(CheckText("tag", tag, 256));
  if (tag.empty() || tag.find('\n') != std::string::npos)
    return Status::InvalidArgument("tag is empty or holds a newline");
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt c, db_->Prepare("SELECT COUNT(*) FROM point_tags WHERE point_id=?"));
  c.Bind(1, point_id);
  LL_ASSIGN_OR_RETURN(bool row, c.Step());
  if (row && c.Int(0) >= kMaxTagsPerPoint) return Status::NoSpace("point already has 32 tags");
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("INSERT OR IGNORE INTO point_tags(point_id, tag) VALUES(?,?)"));
  Status st = s.Bind(1, point_id).Bind(2, tag).Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::NotFound("recovery point " + std::to_string(point_id) + " not found");
  return st;
}

Result<int> Catalog::DeletePointsBefore(int64_t disk_id, uint64_t seq) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM points WHERE disk_id=? AND seq<?"));
  LL_RETURN_IF_ERROR(
      s.Bind(1, disk_id).Bind(2, static_cast<int64_t>(std::min<uint64_t>(seq, INT64_MAX))).Run());
  return db_->Changes();
}

// ---- plans ----

Status Catalog::PutPlan(const PlanRecord& p) {
  LL_RETURN_IF_ERROR(CheckName("plan", p.name));
  LL_RETURN_IF_ERROR(CheckText("plan YAML", p.yaml, kMaxPlanYamlBytes));
  LL_RETURN_IF_ERROR(CheckText("parsed plan", p.parsed_json, 4 * kMaxPlanYamlBytes));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("INSERT INTO plans(name, yaml, parsed, updated) VALUES(?,?,?,?) "
                                   "ON CONFLICT(name) DO UPDATE SET yaml=excluded.yaml, "
                                   "parsed=excluded.parsed, updated=excluded.updated"));
  return s.Bind(1, p.name).Bind(2, p.yaml).Bind(3, p.parsed_json).Bind(4, Now()).Run();
}

Result<PlanRecord> Catalog::GetPlan(const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT id, name, yaml, parsed, updated FROM plans WHERE name=?"));
  s.Bind(1, name);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("recovery plan " + name + " not found");
  return PlanRecord{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
}

Result<std::vector<PlanRecord>> Catalog::ListPlans() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("SELECT id, name, yaml, parsed, updated FROM plans ORDER BY name LIMIT 10000"));
  return CollectRows<PlanRecord>(s, [](const Stmt& r) {
    return PlanRecord{r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)};
  });
}

Status Catalog::DeletePlan(const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM plans WHERE name=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, name).Run());
  if (db_->Changes() == 0) return Status::NotFound("recovery plan " + name + " not found");
  return Status::Ok();
}

// ---- network mapping ----

Status Catalog::PutNetworkMapping(const NetworkMapping& m) {
  LL_RETURN_IF_ERROR(CheckName("source network", m.source));
  LL_RETURN_IF_ERROR(CheckName("recovery network", m.recovery.name));
  LL_RETURN_IF_ERROR(CheckName("drill network", m.drill.name));
  LL_RETURN_IF_ERROR(NetworkMap::Check(m));
  for (const TargetNetwork* t : {&m.recovery, &m.drill}) {
    if (t->reserved.size() > static_cast<size_t>(kMaxReservedPerNetwork)) {
      return Status::InvalidArgument("network " + t->name + ": more than " +
                                     std::to_string(kMaxReservedPerNetwork) +
                                     " reserved addresses");
    }
  }
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  {
    LL_ASSIGN_OR_RETURN(Stmt c, db_->Prepare("SELECT COUNT(*), SUM(source=?) FROM network_mappings"));
    c.Bind(1, m.source);
    LL_ASSIGN_OR_RETURN(bool row, c.Step());
    if (row && c.Int(1) == 0 && c.Int(0) >= kMaxNetworkMappings) {
      return Status::FailedPrecondition("the catalog already holds " +
                                        std::to_string(kMaxNetworkMappings) +
                                        " network mappings, the most it takes");
    }
  }
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT OR REPLACE INTO network_mappings(source, recovery_network, "
                   "recovery_subnet, recovery_gateway, recovery_reserved, drill_network, "
                   "drill_subnet, drill_gateway, drill_reserved, updated) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?)"));
  s.Bind(1, m.source);
  int col = 2;
  for (const TargetNetwork* t : {&m.recovery, &m.drill}) {
    s.Bind(col, t->name)
        .Bind(col + 1, t->subnet.ToString())
        .Bind(col + 2, t->gateway ? t->gateway->ToString() : std::string())
        .Bind(col + 3, JoinAddresses(t->reserved));
    col += 4;
  }
  LL_RETURN_IF_ERROR(s.Bind(10, Now()).Run());
  return tx.Commit();
}

Result<std::vector<NetworkMapping>> Catalog::ListNetworkMappings() {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT source, recovery_network, recovery_subnet, recovery_gateway, "
                           "recovery_reserved, drill_network, drill_subnet, drill_gateway, "
                           "drill_reserved FROM network_mappings ORDER BY source LIMIT 10000"));
  std::vector<NetworkMapping> out;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    NetworkMapping m;
    m.source = s.Text(0);
    auto recovery = ReadTarget(s, 1);
    auto drill = ReadTarget(s, 5);
    if (!recovery.ok() || !drill.ok()) {
      return Status::Corruption("network mapping " + m.source + " in the catalog: " +
                                (recovery.ok() ? drill.status() : recovery.status()).message());
    }
    m.recovery = std::move(*recovery);
    m.drill = std::move(*drill);
    out.push_back(std::move(m));
  }
  return out;
}

Status Catalog::DeleteNetworkMapping(const std::string& source) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM network_mappings WHERE source=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, source).Run());
  if (db_->Changes() == 0) return Status::NotFound("source network " + source + " has no mapping");
  return Status::Ok();
}

Status Catalog::PutStaticIp(const StaticIpRule& rule) {
  const std::string who = "machine " + rule.machine + " NIC " + std::to_string(rule.nic_index);
  if (rule.nic_index < 0 || rule.nic_index >= kMaxNicsPerMachine)
    return Status::InvalidArgument(who + ": the index must be 0..15");
  LL_ASSIGN_OR_RETURN(Machine m, GetMachineByName(rule.machine));
  // When the NIC and its network's mapping are known, the address must fit the target.
  for (const Nic& n : m.nics) {
    if (n.index != rule.nic_index) continue;
    LL_ASSIGN_OR_RETURN(std::vector<NetworkMapping> all, ListNetworkMappings());
    for (const NetworkMapping& nm : all) {
      if (nm.source != n.network) continue;
      const TargetNetwork& t = rule.mode == NetworkMode::kDrill ? nm.drill : nm.recovery;
      if (!t.subnet.Contains(rule.ip)) {
        return Status::InvalidArgument(who + ": " + rule.ip.ToString() + " is outside the " +
                                       std::string(NetworkModeName(rule.mode)) + " network " +
                                       t.name + " (" + t.subnet.ToString() + ")");
      }
      if ((t.gateway && *t.gateway == rule.ip) || t.reserved.count(rule.ip)) {
        return Status::InvalidArgument(who + ": " + rule.ip.ToString() + " is the gateway or a "
                                       "reserved address of " + t.name);
      }
    }
  }
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  {
    LL_ASSIGN_OR_RETURN(Stmt c, db_->Prepare("SELECT COUNT(*) FROM static_ips"));
    LL_ASSIGN_OR_RETURN(bool row, c.Step());
    if (row && c.Int(0) >= kMaxStaticIps) {
      return Status::FailedPrecondition("the catalog already holds " +
                                        std::to_string(kMaxStaticIps) + " static addresses");
    }
  }
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT OR REPLACE INTO static_ips(machine_id, nic, "
                                           "mode, ip) VALUES(?,?,?,?)"));
  LL_RETURN_IF_ERROR(s.Bind(1, m.id)
                         .Bind(2, static_cast<int64_t>(rule.nic_index))
                         .Bind(3, std::string(NetworkModeName(rule.mode)))
                         .Bind(4, rule.ip.ToString())
                         .Run());
  return tx.Commit();
}

Result<std::vector<StaticIpRule>> Catalog::ListStaticIps(const std::string& machine) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT m.name, s.nic, s.mode, s.ip FROM static_ips s JOIN machines m "
                           "ON m.id=s.machine_id WHERE ?1='' OR m.name=?1 "
                           "ORDER BY m.name, s.nic, s.mode LIMIT 10000"));
  s.Bind(1, machine);
  std::vector<StaticIpRule> out;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    auto mode = ParseNetworkMode(s.Text(2));
    auto ip = IpAddress::Parse(s.Text(3));
    if (!mode.ok() || !ip.ok()) {
      return Status::Corruption("static address of " + s.Text(0) + " NIC " +
                                std::to_string(s.Int(1)) + " in the catalog is unreadable");
    }
    out.push_back(StaticIpRule{s.Text(0), static_cast<int>(s.Int(1)), *mode, *ip});
  }
  return out;
}

Status Catalog::DeleteStaticIp(const std::string& machine, int nic_index, NetworkMode mode) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("DELETE FROM static_ips WHERE machine_id=(SELECT id FROM machines "
                           "WHERE name=?) AND nic=? AND mode=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, machine)
                         .Bind(2, static_cast<int64_t>(nic_index))
                         .Bind(3, std::string(NetworkModeName(mode)))
                         .Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("machine " + machine + " NIC " + std::to_string(nic_index) +
                            " has no static " + std::string(NetworkModeName(mode)) + " address");
  }
  return Status::Ok();
}

Result<NetworkMap> Catalog::LoadNetworkMap() {
  NetworkMap map;
  LL_ASSIGN_OR_RETURN(std::vector<NetworkMapping> mappings, ListNetworkMappings());
  for (NetworkMapping& m : mappings) LL_RETURN_IF_ERROR(map.AddMapping(std::move(m)));
  LL_ASSIGN_OR_RETURN(std::vector<StaticIpRule> rules, ListStaticIps());
  for (const StaticIpRule& r : rules) LL_RETURN_IF_ERROR(map.AddStaticRule(r));
  return map;
}

// ---- jobs ----

Result<int64_t> Catalog::CreateJob(const Job& job, const std::vector<JobStep>& steps) {
  LL_RETURN_IF_ERROR(CheckName("job kind", job.kind));
  LL_RETURN_IF_ERROR(CheckText("job target", job.target, kMaxNameBytes));
  LL_RETURN_IF_ERROR(CheckText("job parameters", job.params_json));
  if (steps.empty()) return Status::InvalidArgument("a job needs at least one step");
  if (steps.size() > static_cast<size_t>(kMaxStepsPerJob)) {
    return Status::InvalidArgument("a job may have at most 1000 steps, got " +
                                   std::to_string(steps.size()));
  }
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO jobs(kind, target, params, state, "
                                           "rollback_on_failure, created) VALUES(?,?,?,?,?,?)"));
  LL_RETURN_IF_ERROR(s.Bind(1, job.kind)
                         .Bind(2, job.target)
                         .Bind(3, job.params_json)
                         .Bind(4, JobStateName(JobState::kPending))
                         .Bind(5, static_cast<int64_t>(job.rollback_on_failure ? 1 : 0))
                         .Bind(6, Now())
                         .Run());
  int64_t id = db_->LastInsertId();
  for (size_t i = 0; i < steps.size(); ++i) {
    const JobStep& st = steps[i];
    LL_RETURN_IF_ERROR(CheckText("step name", st.name, kMaxNameBytes));
    LL_RETURN_IF_ERROR(CheckText("step title", st.title, 1024));
    LL_RETURN_IF_ERROR(CheckText("step arguments", st.args_json));
    LL_ASSIGN_OR_RETURN(
        Stmt ins,
        db_->Prepare(
            "INSERT INTO job_steps(job_id, idx, name, title, args, state) VALUES(?,?,?,?,?,?)"));
    LL_RETURN_IF_ERROR(ins.Bind(1, id)
                           .Bind(2, static_cast<int64_t>(i))
                           .Bind(3, st.name)
                           .Bind(4, st.title)
                           .Bind(5, st.args_json)
                           .Bind(6, StepStateName(StepState::kPending))
                           .Run());
  }
  LL_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::vector<JobStep>> Catalog::ReadStepsLocked(int64_t job_id) {
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT job_id, idx, name, title, args, state, "
                                           "progress, error, attempts, started, finished "
                                           "FROM job_steps WHERE job_id=? ORDER BY idx"));
  s.Bind(1, job_id);
  std::vector<JobStep> out;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    JobStep st;
    st.job_id = s.Int(0);
    st.index = static_cast<int>(s.Int(1));
    st.name = s.Text(2);
    st.title = s.Text(3);
    st.args_json = s.Text(4);
    LL_ASSIGN_OR_RETURN(st.state, ParseStepState(s.Text(5)));
    st.progress_percent = static_cast<int>(s.Int(6));
    st.error = s.Text(7);
    st.attempts = static_cast<int>(s.Int(8));
    st.started_unix_nanos = s.Int(9);
    st.finished_unix_nanos = s.Int(10);
    out.push_back(std::move(st));
  }
  return out;
}

Result<Job> Catalog::GetJob(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?"));
  s.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("job " + std::to_string(id) + " not found");
  LL_ASSIGN_OR_RETURN(Job job, ReadJobRow(s));
  LL_ASSIGN_OR_RETURN(job.steps, ReadStepsLocked(id));
  return job;
}

Result<std::vector<Job>> Catalog::ListJobs(const JobFilter& f) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kJobColumns +
                                           " FROM jobs WHERE (?1 = '' OR state = ?1) AND (?2 = '' "
                                           "OR kind = ?2) AND (?3 = '' OR target = ?3)"
                                           " ORDER BY id DESC LIMIT ?4"));
  s.Bind(1, f.state ? std::string(JobStateName(*f.state)) : std::string())
      .Bind(2, f.kind)
      .Bind(3, f.target)
      .Bind(4, static_cast<int64_t>(std::clamp(f.limit, 1, kMaxListRows)));
  std::vector<Job> out;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    LL_ASSIGN_OR_RETURN(Job j, ReadJobRow(s));
    out.push_back(std::move(j));
  }
  for (Job& j : out) {
    LL_ASSIGN_OR_RETURN(j.steps, ReadStepsLocked(j.id));
  }
  return out;
}

Result<std::vector<Job>> Catalog::ListUnfinishedJobs() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mu_);
    LL_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare(
            "SELECT id FROM jobs WHERE state IN ('pending','running') ORDER BY id LIMIT 10000"));
    while (true) {
      LL_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ids.push_back(s.Int(0));
    }
  }
  std::vector<Job> out;
  for (int64_t id : ids) {
    LL_ASSIGN_OR_RETURN(Job j, GetJob(id));
    out.push_back(std::move(j));
  }
  return out;
}

Status Catalog::SetJobState(int64_t id, JobState state, const std::string& error) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare(
                  "UPDATE jobs SET state=?1, error=?2, "
                  "started=CASE WHEN ?1='running' AND started=0 THEN ?3 ELSE started END, "
                  "finished=CASE WHEN ?1 IN ('pending','running') THEN 0 ELSE ?3 END WHERE id=?4"));
  LL_RETURN_IF_ERROR(s.Bind(1, JobStateName(state))
                         .Bind(2, error.substr(0, kMaxTextBytes))
                         .Bind(3, Now())
                         .Bind(4, id)
                         .Run());
  if (db_->Changes() == 0) return Status::NotFound("job " + std::to_string(id) + " not found");
  return Status::Ok();
}

Status Catalog::RequestCancel(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT state FROM jobs WHERE id=?"));
  q.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Status::NotFound("job " + std::to_string(id) + " not found");
  LL_ASSIGN_OR_RETURN(JobState state, ParseJobState(q.Text(0)));
  if (IsFinal(state)) {
    return Status::FailedPrecondition("job " + std::to_string(id) + " already " +
                                      std::string(JobStateName(state)) + ": nothing to cancel");
  }
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("UPDATE jobs SET cancel_requested=1 WHERE id=?"));
  return s.Bind(1, id).Run();
}

Result<bool> Catalog::CancelRequested(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT cancel_requested FROM jobs WHERE id=?"));
  s.Bind(1, id);
  LL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("job " + std::to_string(id) + " not found");
  return s.Int(0) != 0;
}

Status Catalog::UpdateStep(const JobStep& st) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "UPDATE job_steps SET state=?, progress=?, error=?, attempts=?, started=?, finished=? "
          "WHERE job_id=? AND idx=?"));
  LL_RETURN_IF_ERROR(s.Bind(1, StepStateName(st.state))
                         .Bind(2, static_cast<int64_t>(std::clamp(st.progress_percent, 0, 100)))
                         .Bind(3, st.error.substr(0, kMaxTextBytes))
                         .Bind(4, static_cast<int64_t>(st.attempts))
                         .Bind(5, st.started_unix_nanos)
                         .Bind(6, st.finished_unix_nanos)
                         .Bind(7, st.job_id)
                         .Bind(8, static_cast<int64_t>(st.index))
                         .Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("job " + std::to_string(st.job_id) + " step " +
                            std::to_string(st.index) + " not found");
  }
  return Status::Ok();
}

Status Catalog::SetStepProgress(int64_t job_id, int index, int percent) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("UPDATE job_steps SET progress=? WHERE job_id=? AND idx=?"));
  return s.Bind(1, static_cast<int64_t>(std::clamp(percent, 0, 100)))
      .Bind(2, job_id)
      .Bind(3, static_cast<int64_t>(index))
      .Run();
}

Status Catalog::AppendLog(int64_t job_id, int step_index, const std::string& level,
                          const std::string& text) {
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  LL_RETURN_IF_ERROR(tx.Begin());
  LL_ASSIGN_OR_RETURN(
      Stmt c, db_->Prepare("UPDATE jobs SET log_lines=log_lines+1 WHERE id=? RETURNING log_lines"));
  c.Bind(1, job_id);
  LL_ASSIGN_OR_RETURN(bool row, c.Step());
  if (!row) return Status::NotFound("job " + std::to_string(job_id) + " not found");
  int64_t count = c.Int(0);
  (void)c.Step();
  // Bounded: past the limit one marker line is written and later lines are dropped.
  if (count > kMaxLogLinesPerJob + 1) return Status::Ok();
  std::string line = count == kMaxLogLinesPerJob + 1
                         ? "log limit of 10000 lines reached: later lines are dropped"
                         : text.substr(0, kMaxLogLineBytes);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT INTO job_log(job_id, step, time, level, text) VALUES(?,?,?,?,?)"));
  LL_RETURN_IF_ERROR(s.Bind(1, job_id)
                         .Bind(2, static_cast<int64_t>(step_index))
                         .Bind(3, Now())
                         .Bind(4, count == kMaxLogLinesPerJob + 1 ? std::string("warn") : level)
                         .Bind(5, line)
                         .Run());
  return tx.Commit();
}

Result<std::vector<JobLogLine>> Catalog::GetLog(int64_t job_id, int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT id, job_id, step, time, level, text FROM "
                                           "job_log WHERE job_id=? AND id>? ORDER BY id LIMIT ?"));
  s.Bind(1, job_id)
      .Bind(2, after_id)
      .Bind(3, static_cast<int64_t>(std::clamp(limit, 1, kMaxListRows)));
  return CollectRows<JobLogLine>(s, [](const Stmt& r) {
    return JobLogLine{r.Int(0), r.Int(1),  static_cast<int>(r.Int(2)),
                      r.Int(3), r.Text(4), r.Text(5)};
  });
}

Status Catalog::PostSignal(int64_t job_id, int step_index, const std::string& name) {
  LL_RETURN_IF_ERROR(CheckName("signal", name));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT OR REPLACE INTO job_signals(job_id, step, name, time) VALUES(?,?,?,?)"));
  Status st = s.Bind(1, job_id)
                  .Bind(2, static_cast<int64_t>(step_index))
                  .Bind(3, name)
                  .Bind(4, Now())
                  .Run();
  if (st.code() == Code::kFailedPrecondition)
    return Status::NotFound("job " + std::to_string(job_id) + " not found");
  return st;
}

Result<bool> Catalog::TakeSignal(int64_t job_id, int step_index, const std::string& name) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("DELETE FROM job_signals WHERE job_id=? AND step=? AND name=?"));
  LL_RETURN_IF_ERROR(
      s.Bind(1, job_id).Bind(2, static_cast<int64_t>(step_index)).Bind(3, name).Run());
  return db_->Changes() > 0;
}

// ---- audit ----

Status Catalog::Audit(const std::string& actor, const std::string& action,
                      const std::string& object, const std::string& detail) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT INTO audit(time, actor, action, object, detail) VALUES(?,?,?,?,?)"));
  LL_RETURN_IF_ERROR(s.Bind(1, Now())
                         .Bind(2, actor.substr(0, kMaxNameBytes))
                         .Bind(3, action.substr(0, kMaxNameBytes))
                         .Bind(4, object.substr(0, 512))
                         .Bind(5, detail.substr(0, kMaxTextBytes))
                         .Run());
  // Prune now and then rather than on every insert: the bound is approximate by design.
  if (++audit_inserts_ % 1000 == 0) {
    LL_ASSIGN_OR_RETURN(
        Stmt p, db_->Prepare("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?"));
    LL_RETURN_IF_ERROR(p.Bind(1, static_cast<int64_t>(kMaxAuditRows)).Run());
  }
  return Status::Ok();
}

Result<std::vector<AuditEntry>> Catalog::ListAudit(const std::string& object_prefix, int limit) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT id, time, actor, action, object, detail FROM audit "
                           "WHERE substr(object, 1, length(?1)) = ?1 ORDER BY id DESC LIMIT ?2"));
  s.Bind(1, object_prefix).Bind(2, static_cast<int64_t>(std::clamp(limit, 1, kMaxListRows)));
  return CollectRows<AuditEntry>(s, [](const Stmt& r) {
    return AuditEntry{r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5)};
  });
}

// ---- instances ----

Result<int64_t> Catalog::AddInstance(const Instance& in) {
  LL_RETURN_IF_ERROR(CheckName("operation", in.operation));
  LL_RETURN_IF_ERROR(CheckText("instance command", in.command));
  LL_RETURN_IF_ERROR(CheckText("instance addresses", in.ips, 4096));
  LL_RETURN_IF_ERROR(CheckText("instance log path", in.log_path, 4096));
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("INSERT INTO instances(machine_id, operation, pid, "
                                   "log_path, command, ips, started) VALUES(?,?,?,?,?,?,?)"));
  Status st = s.Bind(1, in.machine_id)
                  .Bind(2, in.operation)
                  .Bind(3, in.pid)
                  .Bind(4, in.log_path)
                  .Bind(5, in.command)
                  .Bind(6, in.ips)
                  .Bind(7, Now())
                  .Run();
  if (st.code() == Code::kFailedPrecondition) {
    return Status::NotFound("machine " + std::to_string(in.machine_id) + " not found");
  }
  LL_RETURN_IF_ERROR(st);
  return db_->LastInsertId();
}

Result<std::vector<Instance>> Catalog::ListInstances(int64_t machine_id,
                                                     const std::string& operation) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s,
                      db_->Prepare("SELECT id, machine_id, operation, pid, log_path, command, "
                                   "ips, started FROM instances WHERE (?1=0 OR machine_id=?1) "
                                   "AND (?2='' OR operation=?2) ORDER BY id LIMIT 10000"));
  s.Bind(1, machine_id).Bind(2, operation);
  return CollectRows<Instance>(s, [](const Stmt& r) {
    return Instance{r.Int(0),  r.Int(1),  r.Text(2), r.Int(3),
                    r.Text(4), r.Text(5), r.Text(6), r.Int(7)};
  });
}

Status Catalog::DeleteInstance(int64_t id) {
  std::lock_guard lock(mu_);
  LL_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM instances WHERE id=?"));
  return s.Bind(1, id).Run();
}

}  // namespace lifeline::control
