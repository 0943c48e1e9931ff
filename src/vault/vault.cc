#include "vault/vault.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <optional>

#include "common/clock.h"
#include "common/fs.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/units.h"
#include "control/catalog.h"
#include "control/lifecycle.h"
#include "store/image_import.h"
#include "store/replica_store.h"
#include "vault/group_coordinator.h"
#include "vault/recovery_steps.h"
#include "vault/replication_service.h"
#include "wire/credentials.h"
#include "wire/pki.h"
#include "wire/streams.h"

namespace lifeline::vault {

using nlohmann::json;

namespace {
constexpr char kLog[] = "vault";
constexpr char kAgentTokensFile[] = "agent-tokens";

int64_t NowS() { return Clock::System()->NowUnixNanos() / kNanosPerSecond; }

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}
}  // namespace

Vault::Vault(VaultOptions options) : options_(std::move(options)) {}

Vault::~Vault() { Stop(); }

std::string Vault::pki_dir() const { return JoinPath(options_.dir, "pki"); }

Result<VaultInitResult> Vault::Init(const std::string& dir, const std::vector<std::string>& server_names) {
  FileSystem* fs = FileSystem::Posix();
  if (fs->Exists(JoinPath(dir, "catalog.db")))
    return Status::FailedPrecondition(dir + " already holds a vault; refusing to overwrite its identity");
  LL_RETURN_IF_ERROR(fs->MakeDirs(dir));
  VaultInitResult r;
  LL_ASSIGN_OR_RETURN(r.admin_token, wire::InitVaultCredentials(JoinPath(dir, "pki"), server_names));
  LL_ASSIGN_OR_RETURN(r.registration_key, wire::CreateRegistrationKey(JoinPath(dir, "pki"), NowS()));
  LL_ASSIGN_OR_RETURN(auto store, store::ReplicaStore::Open(JoinPath(dir, "store")));
  LL_ASSIGN_OR_RETURN(auto catalog, control::Catalog::Open(JoinPath(dir, "catalog.db")));
  control::Policy policy;
  policy.name = "default";
  LL_RETURN_IF_ERROR(catalog->AddPolicy(policy).status());
  r.ca_cert_path = JoinPath(JoinPath(dir, "pki"), wire::kCaCertFile);
  return r;
}

Result<std::unique_ptr<Vault>> Vault::Open(const VaultOptions& options) {
  std::unique_ptr<Vault> v(new Vault(options));
  if (!FileSystem::Posix()->Exists(JoinPath(options.dir, "catalog.db")))
    return Status::NotFound(options.dir + " holds no vault: run `lifeline vault init --dir " + options.dir + "` first");
  LL_ASSIGN_OR_RETURN(v->catalog_, control::Catalog::Open(JoinPath(options.dir, "catalog.db")));
  v->lifecycle_ = std::make_unique<control::Lifecycle>(v->catalog_.get());
  LL_ASSIGN_OR_RETURN(v->store_, store::ReplicaStore::Open(JoinPath(options.dir, "store")));
  LL_RETURN_IF_ERROR(v->MigrateCaptureModesFile());
  return v;
}

// Before the catalog held capture modes (schema 3), the vault kept them in
// DIR/capture-modes.json. Moved into the catalog once; the file is then renamed.
Status Vault::MigrateCaptureModesFile() {
  FileSystem* fs = FileSystem::Posix();
  std::string path = JoinPath(options_.dir, "capture-modes.json");
  if (!fs->Exists(path)) return Status::Ok();
  LL_ASSIGN_OR_RETURN(std::string raw, ReadWholeFile(fs, path, 1 << 24));
  json modes = json::parse(raw, nullptr, false);
  if (!modes.is_object()) return Status::Corruption(path + " is not a JSON object: fix or remove it");
  for (auto& [name, entry] : modes.items()) {
    auto m = catalog_->GetMachineByName(name);
    if (!m.ok() || !entry.is_object()) {
      log::Warn(kLog, path + ": skipping " + name + " (no such machine or not an object)");
      continue;
    }
    json config = entry;
    std::string mode = config.value("mode", "scan");
    config.erase("mode");
    LL_RETURN_IF_ERROR(catalog_->SetMachineCapture(m->id, mode, config.dump()));
  }
  LL_RETURN_IF_ERROR(fs->Rename(path, path + ".migrated"));
  log::Info(kLog, "capture modes moved from " + path + " into the catalog");
  return Status::Ok();
}

Status Vault::StartReplication() {
  LL_ASSIGN_OR_RETURN(auto ep, wire::Endpoint::ParseListen(options_.replication_listen));
  ReplicationOptions ro;
  ro.server.bind_address = ep.host;
  ro.server.port = ep.port;
  ro.server.connection.cpu_nice = options_.replication_nice;
  std::shared_ptr<wire::TlsContext> tls;
  if (!options_.insecure) {
    LL_ASSIGN_OR_RETURN(auto cfg, wire::LoadVaultTlsConfig(pki_dir()));
    LL_ASSIGN_OR_RETURN(tls, wire::TlsContext::Create(cfg, wire::TlsRole::kServer));
  } else {
    log::Warn(kLog, "replication listener runs WITHOUT TLS (--insecure): no encryption, no authentication");
  }
  auto authorize = [this](const std::string& agent_id, const wire::Hello& hello) -> Result<store::DiskReplica*> {
    // The disk must belong to a machine protected through this agent (with --insecure the
    // HELLO's agent id is taken on trust).
    std::string agent = options_.insecure ? hello.agent_id : agent_id;
    LL_ASSIGN_OR_RETURN(auto machine, catalog_->GetMachineByName(hello.machine));
    LL_ASSIGN_OR_RETURN(auto site, catalog_->GetSite(agent));
    if (machine.site_id != site.id)
      return Status::Unauthenticated("machine " + hello.machine + " is not protected through agent " + agent);
    LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(machine.id));
    for (const auto& d : disks) {
      if (d.store_disk_id != hello.disk_id) continue;
      LL_ASSIGN_OR_RETURN(store::DiskReplica * replica, store_->Disk(d.store_disk_id));
      // The source disk grew (an operator extended it): the replica follows, and the agent
      // resyncs by block hashes. A smaller disk is refused by the service (never shrunk).
      if (hello.disk_size_bytes > replica->size_bytes() && machine.capture_mode == "scan") {
        const uint64_t old_size = replica->size_bytes();
        LL_RETURN_IF_ERROR(replica->Grow(hello.disk_size_bytes));
        LL_RETURN_IF_ERROR(catalog_->SetDiskSize(d.id, hello.disk_size_bytes));
        (void)catalog_->Audit("agent:" + agent, "disk.grow", "machine/" + hello.machine,
                              d.store_disk_id + " " + std::to_string(old_size) + " -> " +
                                  std::to_string(hello.disk_size_bytes) + " bytes");
      }
      return replica;
    }
    return Status::NotFound("machine " + hello.machine + " has no protected disk " + hello.disk_id);
  };
  LL_ASSIGN_OR_RETURN(replication_, ReplicationService::Start(ro, tls, authorize));
  groups_ = std::make_unique<GroupCoordinator>(replication_.get(), store_.get());
  background_ = std::thread([this] { BackgroundLoop(); });
  group_thread_ = std::thread([this] { GroupScheduleLoop(); });
  log::Info(kLog, "replication listening on " + ep.host + ":" + std::to_string(replication_->port()));
  return Status::Ok();
}

void Vault::Stop() {
  stop_ = true;
  if (background_.joinable()) background_.join();
  if (group_thread_.joinable()) group_thread_.join();
  if (replication_) replication_->Stop();
}

uint16_t Vault::replication_port() const { return replication_ ? replication_->port() : 0; }

Status Vault::WriteEndpoints(uint16_t api_port) const {
  LL_ASSIGN_OR_RETURN(auto ep, wire::Endpoint::ParseListen(options_.api_listen));
  LL_ASSIGN_OR_RETURN(auto rep, wire::Endpoint::ParseListen(options_.replication_listen));
  json j = {{"api", "https://" + ep.host + ":" + std::to_string(api_port)},
            {"replication", rep.host + ":" + std::to_string(replication_port())},
            {"ca", JoinPath(pki_dir(), wire::kCaCertFile)},
            {"pid", ::getpid()}};
  std::string run = JoinPath(options_.dir, "run");
  LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(run));
  return WriteFileAtomic(FileSystem::Posix(), JoinPath(run, "endpoints.json"), j.dump(2));
}

void Vault::BackgroundLoop() {
  int64_t last_retention = NowS();
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (NowS() - last_retention < options_.retention_interval_s) continue;
    last_retention = NowS();
    auto ids = store_->DiskIds();
    if (!ids.ok()) continue;
    for (const auto& id : *ids) {
      auto d = store_->Disk(id);
      if (!d.ok()) continue;
      auto r = (*d)->ApplyRetention(Clock::System()->NowUnixNanos());
      if (!r.ok()) log::Warn(kLog, id + ": retention: " + r.status().ToString());
    }
  }
}

Result<bool> Vault::IsAdminToken(const std::string& token) const { return wire::CheckAdminToken(pki_dir(), token); }

Result<std::string> Vault::AgentForToken(const std::string& token) const {
  std::string path = JoinPath(pki_dir(), kAgentTokensFile);
  if (!FileSystem::Posix()->Exists(path)) return Status::Unauthenticated("unknown token");
  LL_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(FileSystem::Posix(), path, 16u << 20));
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    if (wire::SecretMatches(token, line.substr(sp + 1))) return line.substr(0, sp);
  }
  return Status::Unauthenticated("unknown token");
}

Result<json> Vault::CreateRegistrationKey() {
  LL_ASSIGN_OR_RETURN(std::string key, wire::CreateRegistrationKey(pki_dir(), NowS()));
  return json{{"registration_key", key}, {"valid_hours", 24}};
}

Result<json> Vault::RegisterAgent(const json& req) {
  if (!req.is_object() || !req.contains("key") || !req.contains("csr") || !req.contains("name") ||
      !req["key"].is_string() || !req["csr"].is_string() || !req["name"].is_string())
    return Status::InvalidArgument("registration needs string fields key, csr and name");
  std::string name = req["name"];
  if (!ValidName(name)) return Status::InvalidArgument("agent name '" + name + "' must be 1-64 letters, digits, - _ .");
  if (catalog_->GetSite(name).ok()) return Status::InvalidArgument("an agent named " + name + " is already registered");
  LL_ASSIGN_OR_RETURN(std::string cert, wire::RegisterAgent(pki_dir(), req["key"].get<std::string>(),
                                                            req["csr"].get<std::string>(), name, NowS()));
  LL_ASSIGN_OR_RETURN(std::string ca, ReadWholeFile(FileSystem::Posix(), JoinPath(pki_dir(), wire::kCaCertFile), 1 << 20));
  control::Site site;
  site.name = name;
  site.role = "primary";
  site.address = req.value("address", "");
  LL_RETURN_IF_ERROR(catalog_->AddSite(site).status());
  std::string token = wire::GenerateApiToken();
  {
    std::lock_guard l(mu_);
    std::string path = JoinPath(pki_dir(), kAgentTokensFile);
    std::string existing;
    if (FileSystem::Posix()->Exists(path)) {
      LL_ASSIGN_OR_RETURN(existing, ReadWholeFile(FileSystem::Posix(), path, 16u << 20));
    }
    LL_RETURN_IF_ERROR(wire::WritePrivateFile(path, existing + name + " " + wire::HashSecret(token) + "\n"));
  }
  (void)catalog_->Audit("vault", "agent.register", "agent/" + name, "");
  json replication = json::array();
  if (replication_) {
    auto ep = wire::Endpoint::ParseListen(options_.replication_listen);
    if (ep.ok()) replication.push_back(ep->host + ":" + std::to_string(replication_port()));
  }
  return json{{"agent_id", name}, {"cert", cert}, {"ca", ca}, {"token", token}, {"replication", replication},
              {"insecure", options_.insecure}};
}

Result<json> Vault::Protect(const json& req) {
  if (!req.is_object() || !req.contains("name") || !req["name"].is_string() || !req.contains("agent") ||
      !req["agent"].is_string() || !req.contains("disks") || !req["disks"].is_array() || req["disks"].empty())
    return Status::InvalidArgument("protect needs name, agent and a non-empty disks list");
  std::string name = req["name"];
  if (!ValidName(name)) return Status::InvalidArgument("machine name '" + name + "' must be 1-64 letters, digits, - _ .");
  if (req["disks"].size() > 64) return Status::InvalidArgument("at most 64 disks per machine");
  if (catalog_->GetMachineByName(name).ok())
    return Status::InvalidArgument("machine " + name + " is already protected");
  LL_ASSIGN_OR_RETURN(auto site, catalog_->GetSite(req["agent"].get<std::string>()));
  std::string policy_name = req.value("policy", "default");
  auto policy = catalog_->GetPolicyByName(policy_name);
  if (!policy.ok()) return Status::NotFound("no replication policy named " + policy_name);
  // Capture mode per machine (scan | nbd), kept in the catalog with the machine.
  std::string mode = req.value("mode", "scan");
  if (mode != "scan" && mode != "nbd") return Status::InvalidArgument("capture mode must be scan or nbd, not '" + mode + "'");
  std::vector<control::Disk> disks;
  for (size_t i = 0; i < req["disks"].size(); ++i) {
    const auto& d = req["disks"][i];
    if (!d.is_object() || !d.contains("path") || !d["path"].is_string() || !d.contains("size_bytes") ||
        !d["size_bytes"].is_number_unsigned())
      return Status::InvalidArgument("each disk needs a path and size_bytes");
    control::Disk disk;
    disk.path = d["path"];
    disk.size_bytes = d["size_bytes"];
    disk.store_disk_id = name + "-disk" + std::to_string(i);
    if (d.contains("seed") && (!d["seed"].is_string() || mode != "scan"))
      return Status::InvalidArgument("a disk's seed must be a path on the vault's host (scan mode)");
    disks.push_back(disk);
  }
  control::Machine m;
  m.name = name;
  m.site_id = site.id;
  m.policy_id = policy->id;
  m.capture_mode = mode;
  json capture = json::object();
  if (mode == "nbd") {
    capture = {{"nbd_listen", req.value("nbd_listen", "127.0.0.1:0")},
               {"point_interval_s", req.value("point_interval_s", 5)}};
  }
  // Names this generation of the machine's replicas: an agent that kept state for an earlier
  // machine of the same name (deleted, then protected again) sees a new epoch and does not
  // trust that state.
  capture["replica_epoch"] = static_cast<uint64_t>(Clock::System()->NowUnixNanos());
  m.capture_config = capture.dump();
  LL_ASSIGN_OR_RETURN(int64_t machine_id, catalog_->AddMachine(m));
  store::RetentionPolicy retention;
  retention.window_seconds = policy->retention_seconds;
  retention.keep_all_seconds = std::min<int64_t>(retention.keep_all_seconds, retention.window_seconds);
  // Seeds: an image of a disk already on this host (the original disk after a failover, for
  // re-protect) becomes the replica's first state, so the agent's first sync compares block
  // hashes and sends only what differs; a missing seed leaves a full initial copy. A disk
  // enters the catalog (and the agent's assignments) only once seeded, so the agent's
  // session never races the import for the replica's seqs.
  json seeds = json::array();
  for (size_t i = 0; i < disks.size(); ++i) {
    auto& d = disks[i];
    d.machine_id = machine_id;
    if (!store_->Disk(d.store_disk_id).ok()) LL_RETURN_IF_ERROR(store_->CreateDisk(d.store_disk_id, d.size_bytes, retention).status());
    const json& dr = req["disks"][i];
    if (dr.contains("seed")) {
      const std::string seed = dr["seed"];
      json sj = {{"disk_id", d.store_disk_id}, {"seed", seed}};
      struct stat st {};
      if (::stat(seed.c_str(), &st) != 0 || uint64_t(st.st_size) != d.size_bytes) {
        sj["mode"] = "full";
        sj["reason"] = ::stat(seed.c_str(), &st) != 0 ? "the seed is missing" : "the seed's size differs";
      } else {
        LL_ASSIGN_OR_RETURN(auto replica, store_->Disk(d.store_disk_id));
        store::ImportOptions io;
        io.label = "seed";
        LL_ASSIGN_OR_RETURN(auto report, store::ImportImage(replica, seed, io));
        sj["mode"] = "delta";
        sj["blocks_imported"] = report.blocks_changed;
        sj["bytes_imported"] = report.bytes_stored;
      }
      seeds.push_back(sj);
    }
    LL_RETURN_IF_ERROR(catalog_->AddDisk(d).status());
  }
  if (!seeds.empty()) (void)catalog_->Audit("admin", "machine.seed", "machine/" + name, seeds.dump());
  (void)catalog_->Audit("admin", "machine.protect", "machine/" + name, "");
  LL_ASSIGN_OR_RETURN(json out, MachineStatus(name));
  if (!seeds.empty()) out["seeds"] = seeds;
  return out;
}

Result<json> Vault::DiskStatus(const std::string& machine, int64_t disk_id) {
  LL_ASSIGN_OR_RETURN(auto disk, catalog_->GetDisk(disk_id));
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(auto policy, catalog_->GetPolicy(m.policy_id));
  json j = {{"disk_id", disk.store_disk_id}, {"path", disk.path}, {"size_bytes", disk.size_bytes}};
  auto replica = store_->Disk(disk.store_disk_id);
  int64_t now = Clock::System()->NowUnixNanos();
  std::string health = "Healthy";
  std::vector<std::string> reasons;
  std::optional<SinkStats> sink;
  if (replication_) {
    auto stats = replication_->Stats();
    auto it = stats.find(disk.store_disk_id);
    if (it != stats.end()) sink = it->second;
  }
  if (replica.ok()) {
    auto points = (*replica)->Points();
    j["durable_seq"] = (*replica)->durable_seq();
    j["points"] = points.size();
    if (!points.empty()) {
      int64_t newest = points.back().time_unix_ns;
      for (const auto& p : points) newest = std::max(newest, p.time_unix_ns);
      j["newest_point"] = FormatTime(newest);
      // A capture cycle that found nothing changed confirms the newest point again: the
      // replica is current as of that cycle, so the RPO counts from it.
      if (sink && sink->newest_point_time_ns > newest) {
        newest = sink->newest_point_time_ns;
        j["current_as_of"] = FormatTime(newest);
      }
      double rpo = double(now - newest) / 1e9;
      j["rpo_seconds"] = rpo;
      // Reverse direction: this replica stands still by design; the primary vault, which
      // holds the reverse replica, judges the RPO.
      if (m.direction == "reverse") {
      } else if (rpo >= double(policy.rpo_critical_seconds)) {
        health = "Critical";
        reasons.push_back("RPO " + FormatDuration(rpo) + " above the critical threshold");
      } else if (rpo >= double(policy.rpo_warning_seconds)) {
        health = "Warning";
        reasons.push_back("RPO " + FormatDuration(rpo) + " above the warning threshold");
      }
    } else {
      j["rpo_seconds"] = nullptr;
    }
    std::string ro = (*replica)->read_only_reason();
    if (!ro.empty()) {
      health = "Critical";
      reasons.push_back("replica read-only: " + ro);
    }
  }
  if (sink) {
    j["streams"] = sink->streams;
    j["bytes_received"] = sink->bytes_received;
    if (!sink->condition.empty()) {
      health = "Critical";
      reasons.push_back(sink->condition);
    }
  }
  {
    std::lock_guard l(mu_);
    auto it = reports_.find(disk.store_disk_id);
    if (it != reports_.end()) {
      j["agent"] = it->second;
      if (it->second.contains("last_error") && !it->second["last_error"].get<std::string>().empty()) {
        if (health == "Healthy") health = "Warning";
        reasons.push_back("agent: " + it->second["last_error"].get<std::string>());
      }
      if (it->second.contains("last_warning") && it->second["last_warning"].is_string() &&
          !it->second["last_warning"].get<std::string>().empty()) {
        if (health == "Healthy") health = "Warning";
        reasons.push_back("agent: " + it->second["last_warning"].get<std::string>());
      }
    }
  }
  j["health"] = health;
  j["health_reasons"] = reasons;
  return j;
}

uint64_t Vault::PointsReceived(const std::string& disk_id) const {
  if (!replication_) return 0;
  auto stats = replication_->Stats();
  auto it = stats.find(disk_id);
  return it == stats.end() ? 0 : it->second.points_received;
}

json Vault::AgentReport(const std::string& disk_id) const {
  std::lock_guard l(mu_);
  auto it = reports_.find(disk_id);
  return it == reports_.end() ? json(nullptr) : it->second;
}

Result<json> Vault::MachineStatus(const std::string& name) {
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(name));
  LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(m.id));
  LL_ASSIGN_OR_RETURN(auto policy, catalog_->GetPolicy(m.policy_id));
  json out = {{"name", m.name}, {"state", m.state}, {"drill_state", m.drill_state}, {"direction", m.direction},
              {"policy", policy.name}};
  json capture = CaptureConfigOf(m);
  capture["mode"] = m.capture_mode;
  out["capture"] = capture;
  if (m.group_id) {
    LL_ASSIGN_OR_RETURN(auto groups, catalog_->ListGroups());
    for (const auto& g : groups)
      if (g.id == m.group_id) out["group"] = g.name;
  }
  LL_ASSIGN_OR_RETURN(auto sites, catalog_->ListSites());
  for (const auto& s : sites)
    if (s.id == m.site_id) out["agent"] = s.name;
  json dj = json::array();
  std::string worst = "Healthy";
  auto rank = [](const std::string& h) { return h == "Critical" ? 2 : h == "Warning" ? 1 : 0; };
  for (const auto& d : disks) {
    LL_ASSIGN_OR_RETURN(json s, DiskStatus(name, d.id));
    if (rank(s["health"]) > rank(worst)) worst = s["health"];
    dj.push_back(std::move(s));
  }
  out["disks"] = dj;
  out["health"] = worst;
  if (m.direction == "reverse") {
    // Where the reverse replica lives (continuous re-protect), from the failover record.
    auto raw = ReadWholeFile(FileSystem::Posix(),
                             JoinPath(JoinPath(JoinPath(options_.dir, "recovery"), name), "failover.json"), 1 << 24);
    json record = raw.ok() ? json::parse(*raw, nullptr, false) : json();
    if (record.is_object() && record.contains("reverse")) out["reverse"] = record["reverse"];
  }
  return out;
}

Result<json> Vault::ListMachines() {
  LL_ASSIGN_OR_RETURN(auto machines, catalog_->ListMachines());
  json out = json::array();
  for (const auto& m : machines) {
    LL_ASSIGN_OR_RETURN(json s, MachineStatus(m.name));
    out.push_back(std::move(s));
  }
  return out;
}

Result<json> Vault::Points(const std::string& machine) {
  LL_ASSIGN_OR_RETURN(auto m, catalog_->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(m.id));
  json out = json::array();
  for (const auto& d : disks) {
    LL_ASSIGN_OR_RETURN(auto replica, store_->Disk(d.store_disk_id));
    for (const auto& p : replica->Points())
      out.push_back({{"disk_id", d.store_disk_id}, {"id", p.id}, {"seq", p.seq}, {"time", FormatTime(p.time_unix_ns)},
                     {"kind", store::PointKindName(p.kind)}, {"label", p.label}, {"tags", p.tags},
                     {"group_point_id", p.group_point_id}});
  }
  return out;
}

Result<json> Vault::Assignments(const std::string& agent_id) {
  LL_ASSIGN_OR_RETURN(auto site, catalog_->GetSite(agent_id));
  LL_ASSIGN_OR_RETURN(auto machines, catalog_->ListMachines());
  json out = json::array();
  for (const auto& m : machines) {
    if (m.site_id != site.id || m.direction != "forward") continue;
    if (m.state == "failover-in-progress" || m.state == "failed-over" || m.state == "committed" ||
        m.state == "disabled")
      continue;
    LL_ASSIGN_OR_RETURN(auto policy, catalog_->GetPolicy(m.policy_id));
    LL_ASSIGN_OR_RETURN(auto disks, catalog_->ListDisks(m.id));
    json capture = CaptureConfigOf(m);
    for (const auto& d : disks)
      out.push_back({{"machine", m.name},
                     {"disk_id", d.store_disk_id},
                     {"path", d.path},
                     {"size_bytes", d.size_bytes},
                     {"streams", policy.streams},
                     {"compression", policy.compression},
                     {"interval_s", policy.crash_point_interval_seconds},
                     {"bandwidth_limit_bytes_per_s", policy.bandwidth_limit_bytes_per_second},
                     {"pre_hook", policy.app_pre_hook},
                     {"post_hook", policy.app_post_hook},
                     {"app_interval_s", policy.app_point_interval_seconds},
                     {"mode", m.capture_mode},
                     {"capture", capture}});
  }
  return out;
}

Status Vault::Report(const std::string& agent_id, const json& report) {
  if (!report.is_object() || !report.contains("disks") || !report["disks"].is_array())
    return Status::InvalidArgument("a report needs a disks list");
  LL_ASSIGN_OR_RETURN(auto site, catalog_->GetSite(agent_id));
  for (const auto& d : report["disks"]) {
    if (!d.is_object() || !d.contains("disk_id") || !d["disk_id"].is_string() || !d.contains("machine") ||
        !d["machine"].is_string())
      return Status::InvalidArgument("each disk report needs disk_id and machine");
    auto m = catalog_->GetMachineByName(d["machine"]);
    if (!m.ok() || m->site_id != site.id) return Status::Unauthenticated("agent " + agent_id + " does not own that machine");
    {
      std::lock_guard l(mu_);
      reports_[d["disk_id"]] = d;
    }
    // Lifecycle: the first report starts initial replication; the first completed copy
    // makes the machine protected.
    std::string phase = d.value("phase", "");
    bool initial_complete = d.value("initial_complete", false);
    if (m->state == "enabling")
      (void)lifecycle_->SetState(m->name, control::MachineEvent::kStartInitialReplication, "agent/" + agent_id);
    if (initial_complete) {
      auto again = catalog_->GetMachineByName(d["machine"]);
      if (again.ok() && again->state == "initial-replication") {
        // Every disk of the machine must have finished its initial copy.
        bool all = true;
        LL_ASSIGN_OR_RETURN(auto machine_disks, catalog_->ListDisks(again->id));
        for (const auto& disk : machine_disks) {
          std::lock_guard l(mu_);
          auto it = reports_.find(disk.store_disk_id);
          all &= it != reports_.end() && it->second.value("initial_complete", false);
        }
        if (all) (void)lifecycle_->SetState(again->name, control::MachineEvent::kInitialReplicationDone, "agent/" + agent_id);
      }
    }
  }
  return Status::Ok();
}

namespace {
json PolicyJson(const control::Policy& p) {
  return {{"name", p.name},
          {"interval_s", p.crash_point_interval_seconds},
          {"streams", p.streams},
          {"compression", p.compression},
          {"retention_s", p.retention_seconds},
          {"rpo_warning_s", p.rpo_warning_seconds},
          {"rpo_critical_s", p.rpo_critical_seconds},
          {"bandwidth_limit_bytes_per_s", p.bandwidth_limit_bytes_per_second},
          {"pre_hook", p.app_pre_hook},
          {"post_hook", p.app_post_hook},
          {"app_interval_s", p.app_point_interval_seconds}};
}
}  // namespace

Result<json> Vault::PutPolicy(const json& req) {
  if (!req.is_object() || !req.contains("name") || !req["name"].is_string())
    return Status::InvalidArgument("a policy needs a name");
  control::Policy p;
  auto existing = catalog_->GetPolicyByName(req["name"]);
  if (existing.ok()) p = *existing;
  p.name = req["name"];
  try {
    if (req.contains("interval_s")) p.crash_point_interval_seconds = req["interval_s"].get<int64_t>();
    if (req.contains("streams")) p.streams = req["streams"].get<int>();
    if (req.contains("compression")) p.compression = req["compression"].get<std::string>();
    if (req.contains("retention_s")) p.retention_seconds = req["retention_s"].get<int64_t>();
    if (req.contains("rpo_warning_s")) p.rpo_warning_seconds = req["rpo_warning_s"].get<int64_t>();
    if (req.contains("rpo_critical_s")) p.rpo_critical_seconds = req["rpo_critical_s"].get<int64_t>();
    if (req.contains("bandwidth_limit_bytes_per_s"))
      p.bandwidth_limit_bytes_per_second = req["bandwidth_limit_bytes_per_s"].get<int64_t>();
    if (req.contains("pre_hook")) p.app_pre_hook = req["pre_hook"].get<std::string>();
    if (req.contains("post_hook")) p.app_post_hook = req["post_hook"].get<std::string>();
    if (req.contains("app_interval_s")) p.app_point_interval_seconds = req["app_interval_s"].get<int64_t>();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("policy field of the wrong type: ") + e.what());
  }
  LL_RETURN_IF_ERROR(wire::ValidateStreamCount(p.streams));
  LL_RETURN_IF_ERROR(ParseCodec(p.compression).status());
  if (existing.ok()) {
    LL_RETURN_IF_ERROR(catalog_->UpdatePolicy(p));
  } else {
    LL_RETURN_IF_ERROR(catalog_->AddPolicy(p).status());
  }
  (void)catalog_->Audit("admin", "policy.put", "policy/" + p.name, "");
  LL_ASSIGN_OR_RETURN(auto stored, catalog_->GetPolicyByName(p.name));
  return PolicyJson(stored);
}

Result<json> Vault::ListPolicies() {
  LL_ASSIGN_OR_RETURN(auto policies, catalog_->ListPolicies());
  json out = json::array();
  for (const auto& p : policies) out.push_back(PolicyJson(p));
  return out;
}

Result<json> Vault::Health() {
  LL_ASSIGN_OR_RETURN(json machines, ListMachines());
  json out = {{"machines", machines.size()}, {"status", "ok"}};
  int warning = 0, critical = 0;
  for (const auto& m : machines) {
    warning += m["health"] == "Warning";
    critical += m["health"] == "Critical";
  }
  out["warning"] = warning;
  out["critical"] = critical;
  if (replication_) {
    out["replication_refused"] = replication_->server().refused();
    out["replication_sessions"] = replication_->server().active_sessions();
  }
  return out;
}

}  // namespace lifeline::vault
