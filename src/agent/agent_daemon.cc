#include "agent/agent_daemon.h"

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agent/disk_sender.h"
#include "agent/nbd_capture.h"
#include "agent/scan_capture.h"
#include "api/client.h"
#include "common/fs.h"
#include "common/log.h"
#include "wire/credentials.h"
#include "wire/pki.h"
#include "wire/tls.h"

namespace lifeline::agent {

using nlohmann::json;

namespace {
constexpr char kLog[] = "agent";
constexpr char kConfigFile[] = "agent.json";
}  // namespace

Result<AgentConfig> RegisterWithVault(const RegisterRequest& r) {
  if (r.name.empty() || r.key.empty() || r.vault_url.empty() || r.ca_path.empty() || r.dir.empty())
    return Status::InvalidArgument("registration needs --vault, --ca, --key, --name and --dir");
  FileSystem* fs = FileSystem::Posix();
  if (fs->Exists(JoinPath(r.dir, kConfigFile)))
    return Status::FailedPrecondition(r.dir + " already holds a registered agent");
  LL_RETURN_IF_ERROR(fs->MakeDirs(r.dir));
  LL_ASSIGN_OR_RETURN(auto kc, wire::CreateKeyAndCsr(r.name));
  api::ApiClient client({r.vault_url, r.ca_path, ""});
  LL_ASSIGN_OR_RETURN(json reply, client.Post("/v1/agents/register", json{{"key", r.key}, {"csr", kc.csr_pem}, {"name", r.name}}));
  std::string cred = JoinPath(r.dir, "credentials");
  LL_RETURN_IF_ERROR(fs->MakeDirs(cred));
  LL_RETURN_IF_ERROR(wire::SaveAgentCredentials(cred, kc.key_pem, reply.value("cert", ""), reply.value("ca", "")));
  AgentConfig c;
  c.agent_id = reply.value("agent_id", r.name);
  c.vault_url = r.vault_url;
  c.ca_path = JoinPath(cred, wire::kCaCertFile);
  c.token = reply.value("token", "");
  c.insecure = reply.value("insecure", false);
  if (!r.replication.empty()) c.replication = r.replication;
  else if (reply.contains("replication")) c.replication = reply["replication"].get<std::vector<std::string>>();
  json j = {{"agent_id", c.agent_id}, {"vault_url", c.vault_url}, {"ca_path", c.ca_path}, {"token", c.token},
            {"replication", c.replication}, {"insecure", c.insecure}};
  LL_RETURN_IF_ERROR(wire::WritePrivateFile(JoinPath(r.dir, kConfigFile), j.dump(2)));
  return c;
}

Result<AgentConfig> LoadAgentConfig(const std::string& dir) {
  auto text = ReadWholeFile(FileSystem::Posix(), JoinPath(dir, kConfigFile), 1 << 20);
  if (!text.ok()) return Status::NotFound(dir + " holds no registered agent: run `lifeline agent register` first");
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::Corruption(JoinPath(dir, kConfigFile) + " is not valid JSON");
  AgentConfig c;
  c.agent_id = j.value("agent_id", "");
  c.vault_url = j.value("vault_url", "");
  c.ca_path = j.value("ca_path", "");
  c.token = j.value("token", "");
  c.insecure = j.value("insecure", false);
  if (j.contains("replication")) c.replication = j["replication"].get<std::vector<std::string>>();
  if (c.agent_id.empty() || c.replication.empty())
    return Status::Corruption(JoinPath(dir, kConfigFile) + " lacks the agent id or the vault's replication address");
  return c;
}

struct AgentDaemon::Worker {
  json assignment;
  std::unique_ptr<wire::TokenBucket> disk_limit;  // the policy's bandwidth limit, if any
  std::unique_ptr<DiskSender> sender;
  std::unique_ptr<ScanCapture> capture;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  json report;  // latest progress
  bool pending_change_logged = false;  // nbd mode: a change waits for an agent restart
  // The vault's planned-failover drain request (0: none); changes reach the running worker
  // without a restart. Scan mode answers it in `drain`, added to every report.
  std::atomic<uint64_t> drain_request{0};
  json drain;
};

namespace {
// An unsigned field of an assignment's capture settings (0: absent). `replica_epoch`: when
// the vault created the machine's replicas (0: protected before epochs existed);
// `drain_request`: a planned failover's drain request (0: none).
uint64_t CaptureField(const json& a, const char* key) {
  if (!a.is_object() || !a.contains("capture") || !a["capture"].is_object()) return 0;
  const json& c = a["capture"];
  return c.contains(key) && c[key].is_number_unsigned() ? c[key].get<uint64_t>() : 0;
}
uint64_t ReplicaEpochOf(const json& a) { return CaptureField(a, "replica_epoch"); }
uint64_t DrainRequestOf(const json& a) { return CaptureField(a, "drain_request"); }

// The replica epoch the disk's state answers (0: none recorded).
uint64_t StoredEpoch(const std::string& state_dir) {
  auto raw = ReadWholeFile(FileSystem::Posix(), JoinPath(state_dir, "replica-epoch"), 64);
  return raw.ok() ? std::strtoull(raw->c_str(), nullptr, 10) : 0;
}
// The disk's state answers another replica than the one of `epoch`.
bool ReplicaReplaced(const std::string& state_dir, uint64_t epoch) {
  const uint64_t stored = StoredEpoch(state_dir);
  return epoch != 0 && stored != 0 && stored != epoch;
}
// Records that the disk's state now answers the replica of `epoch`.
void SaveReplicaEpoch(const std::string& state_dir, uint64_t epoch) {
  if (epoch == 0 || StoredEpoch(state_dir) == epoch) return;
  if (!FileSystem::Posix()->MakeDirs(state_dir).ok()) return;
  Status s = WriteFileAtomic(FileSystem::Posix(), JoinPath(state_dir, "replica-epoch"),
                             std::to_string(epoch));
  if (!s.ok()) log::Warn(kLog, state_dir + ": cannot save the replica epoch: " + s.ToString());
}

// The assignment without the fields that change under a running worker without
// restarting it: the drain request (handed on), and in scan mode the disk's size, which
// the worker follows itself (a disk that grew makes it reconnect with the new size, the
// vault grows the replica and its next assignment carries that size: restarting the worker
// then would throw away the resync it has just finished or is running).
json WithoutLiveFields(json a) {
  if (!a.is_object()) return a;
  if (a.contains("capture") && a["capture"].is_object()) a["capture"].erase("drain_request");
  if (a.value("mode", "scan") != "nbd") a.erase("size_bytes");
  return a;
}
}  // namespace

AgentDaemon::AgentDaemon(std::string dir, AgentConfig config) : dir_(std::move(dir)), config_(std::move(config)) {
  if (config_.bandwidth_limit_bytes_per_second > 0)
    agent_limit_ = std::make_unique<wire::TokenBucket>(config_.bandwidth_limit_bytes_per_second);
}

AgentDaemon::~AgentDaemon() { Stop(); }

void AgentDaemon::Stop() {
  stop_ = true;
  std::lock_guard l(mu_);
  for (auto& [id, w] : workers_) {
    w->stop = true;
    if (w->sender) w->sender->Stop();
  }
  for (auto& [id, w] : workers_)
    if (w->thread.joinable()) w->thread.join();
  workers_.clear();
}

void AgentDaemon::StartWorker(const std::string& text) {
  json a = json::parse(text);
  std::string disk_id = a["disk_id"];
  auto w = std::make_unique<Worker>();
  w->assignment = a;
  w->drain_request = DrainRequestOf(a);
  Worker* raw = w.get();
  {
    std::lock_guard l(mu_);
    if (workers_.count(disk_id)) return;
    workers_[disk_id] = std::move(w);
  }
  raw->thread = std::thread([this, raw] {
    const json& a = raw->assignment;
    std::string disk_id = a["disk_id"];
    auto set_report = [&](json r) {
      std::lock_guard l(raw->mu);
      r["disk_id"] = disk_id;
      r["machine"] = a["machine"];
      if (!r.contains("drain")) r["drain"] = raw->drain;
      raw->report = std::move(r);
    };
    SenderOptions so;
    for (const auto& addr : config_.replication) {
      auto ep = wire::Endpoint::Parse(addr);
      if (ep.ok()) so.vaults.push_back(*ep);
    }
    if (!config_.insecure) {
      auto cfg = wire::LoadAgentTlsConfig(JoinPath(dir_, "credentials"));
      if (!cfg.ok()) return set_report({{"phase", "error"}, {"last_error", cfg.status().ToString()}});
      auto tls = wire::TlsContext::Create(*cfg, wire::TlsRole::kClient);
      if (!tls.ok()) return set_report({{"phase", "error"}, {"last_error", tls.status().ToString()}});
      so.tls = *tls;
    }
    so.agent_id = config_.agent_id;
    so.machine = a["machine"];
    so.disk_id = disk_id;
    so.disk_size_bytes = a["size_bytes"];
    so.streams = a.value("streams", 4);
    so.connect.connection.cpu_nice = kReplicationNice;
    so.codec = ParseCodec(a.value("compression", "none")).ok() ? *ParseCodec(a.value("compression", "none")) : Codec::kNone;
    uint64_t limit = a.value("bandwidth_limit_bytes_per_s", uint64_t(0));
    if (limit > 0) {
      raw->disk_limit = std::make_unique<wire::TokenBucket>(limit);
      so.disk_limit = raw->disk_limit.get();
    }
    so.agent_limit = agent_limit_.get();  // shared by every disk of this agent
    const bool scan = a.value("mode", "scan") != "nbd";
    if (scan) {
      // The disk as it is now: when it grew since it was protected, the vault's replica grows
      // with it at HELLO.
      auto f = FileSystem::Posix()->Open(a["path"].get<std::string>(), OpenMode::kRead);
      auto size = f.ok() ? (*f)->Size() : Result<uint64_t>(f.status());
      if (size.ok() && *size > so.disk_size_bytes) so.disk_size_bytes = *size;
      if (size.ok() && *size < so.disk_size_bytes) {
        return set_report({{"phase", "error"},
                           {"last_error", "FailedPrecondition: " + a["path"].get<std::string>() + " shrank from " +
                                              std::to_string(so.disk_size_bytes) + " to " + std::to_string(*size) +
                                              " bytes: a replica never shrinks (its points would lose data); "
                                              "re-protect the disk"}});
      }
    }
    // (Re)connects the sender; false when the vault refused it (reported) or on stop.
    uint64_t durable_seq = 0;
    auto start_sender = [&]() -> bool {
      auto sender = std::make_unique<DiskSender>(so);
      std::unique_ptr<DiskSender> old;
      {
        std::lock_guard l(mu_);  // Stop() reaches the sender under mu_
        old = std::move(raw->sender);
        raw->sender = std::move(sender);
      }
      if (old) old->Stop();
      while (!raw->stop) {
        auto started = raw->sender->Start(5000);
        if (started.ok()) {
          durable_seq = *started;
          return true;
        }
        set_report({{"phase", "connecting"}, {"last_error", started.status().ToString()}});
        if (started.status().code() != Code::kBusy) return false;  // refused: reported, stop trying
      }
      return false;
    };
    if (!start_sender()) return;
    const std::string state_dir = JoinPath(JoinPath(dir_, "disks"), disk_id);
    // A replica other than the one this state describes (the machine was deleted and
    // protected again): what the state says the vault holds is not true any more.
    const uint64_t epoch = ReplicaEpochOf(a);
    const bool replaced = ReplicaReplaced(state_dir, epoch) || durable_seq == 0;
    if (!scan) {  // continuous capture: serve the disk over NBD
      json na = a;
      if (replaced && epoch != 0) na["replica_replaced"] = true;
      bool epoch_saved = false;
      RunNbdAssignment(na.dump(), state_dir, raw->sender.get(), durable_seq, raw->stop,
                       raw->drain_request, [&](const std::string& r) {
                         json report = json::parse(r);
                         if (!epoch_saved && report.value("phase", "") != "error") {
                           // Served: the disk's state answers this replica from now on.
                           SaveReplicaEpoch(state_dir, epoch);
                           epoch_saved = true;
                         }
                         set_report(std::move(report));
                       });
      return;
    }
    ScanOptions opts;
    opts.disk_path = a["path"];
    opts.state_dir = state_dir;
    if (replaced) {
      // Block hashes kept for an earlier replica would hide blocks from this one: without
      // them the agent copies the disk (empty replica) or compares hashes with it (seeded).
      std::string state = JoinPath(opts.state_dir, "scan-state");
      if (FileSystem::Posix()->Exists(state) && FileSystem::Posix()->Remove(state).ok())
        log::Info(kLog,
                  disk_id + ": a new replica at the vault: its earlier block hashes are dropped");
    }
    SaveReplicaEpoch(state_dir, epoch);
    opts.pre_hook = a.value("pre_hook", "");
    opts.post_hook = a.value("post_hook", "");
    raw->capture = std::make_unique<ScanCapture>(opts, raw->sender.get());
    int64_t interval_s = std::max<int64_t>(1, a.value("interval_s", 300));
    std::string last_error;
    json last;  // the last finished phase
    json sync;  // the first finished phase (initial replication or resync): what it sent
    json resync = json::object();  // the latest finished resync: later cycles do not hide it
    // Planned failover: a drain request is answered by one whole cycle that began after it
    // was seen (the source is stopped by then); its point is the drained seq. No cycle runs
    // after that until the request is lifted (a cancelled failover).
    uint64_t drained_for = 0;
    auto set_drain = [&](json d) {
      std::lock_guard l(raw->mu);
      raw->drain = std::move(d);
      if (raw->report.is_object()) raw->report["drain"] = raw->drain;
    };
    while (!raw->stop) {
      const uint64_t drain_at_start = raw->drain_request.load();
      if (drain_at_start == 0 && drained_for != 0) {
        log::Info(kLog, disk_id + ": drain request lifted (failover cancelled): cycles resume");
        drained_for = 0;
        set_drain(nullptr);
      }
      if (drain_at_start != 0 && drain_at_start == drained_for) {  // drained: wait for a change
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      if (drain_at_start != 0) {
        log::Info(kLog, disk_id + ": planned failover: a last cycle to drain the disk");
        set_drain({{"request", drain_at_start}, {"state", "draining"}, {"seq", 0}});
      }
      auto t0 = std::chrono::steady_clock::now();
      auto r = raw->capture->RunOnce([&](const ScanProgress& p) {
        double rate = p.seconds > 0 ? double(p.bytes_done) / p.seconds : 0;
        double eta = rate > 0 ? double(p.bytes_total - p.bytes_done) / rate : 0;
        set_report({{"phase", p.phase},
                    {"percent", p.bytes_total ? 100.0 * double(p.bytes_done) / double(p.bytes_total) : 100.0},
                    {"bytes_done", p.bytes_done},
                    {"bytes_total", p.bytes_total},
                    {"bytes_sent", p.bytes_sent},
                    {"bytes_per_s", rate},
                    {"eta_s", eta},
                    {"initial_complete", raw->capture->initial_complete() && p.phase != "initial-replication"},
                    {"last_error", last_error},
                    {"last", last},
                    {"sync", sync},
                    {"resync", resync}});
      });
      if (r.ok()) {
        last_error.clear();
        last = {{"phase", r->phase}, {"seconds", r->seconds}, {"bytes_sent", r->bytes_sent},
                {"blocks_changed", r->blocks_changed}, {"point_seq", r->point_seq}};
        if (sync.is_null() && r->phase != "cycle") sync = last;
        if (r->phase == "resync") resync = last;
        auto st = raw->sender->stats();
        if (drain_at_start != 0 && raw->drain_request.load() == drain_at_start) {
          drained_for = drain_at_start;
          log::Info(kLog, disk_id + ": drained at seq " + std::to_string(r->point_seq));
          set_drain({{"request", drain_at_start}, {"state", "drained"}, {"seq", r->point_seq}});
        }
        set_report({{"phase", "idle"}, {"percent", 100.0}, {"initial_complete", true}, {"last", last}, {"sync", sync},
                    {"resync", resync}, {"bytes_on_wire", st.bytes_sent}, {"last_error", ""}});
      } else if (uint64_t grown = raw->capture->grown_to(); grown > so.disk_size_bytes) {
        // The disk grew: reconnect with the new size (the vault grows the replica), then
        // resync by block hashes: only the blocks that differ (the new range's data) go.
        log::Info(kLog, disk_id + ": the disk grew from " + std::to_string(so.disk_size_bytes) + " to " +
                            std::to_string(grown) + " bytes; the replica follows, then a resync");
        so.disk_size_bytes = grown;
        if (!start_sender()) return;
        raw->capture = std::make_unique<ScanCapture>(opts, raw->sender.get());
        continue;
      } else {
        last_error = r.status().ToString();
        log::Warn(kLog, disk_id + ": " + last_error);
        set_report({{"phase", "error"}, {"last_error", last_error}, {"initial_complete", raw->capture->initial_complete()},
                    {"last", last}, {"resync", resync}});
      }
      // A new drain request cuts the wait short.
      while (!raw->stop &&
             std::chrono::steady_clock::now() - t0 < std::chrono::seconds(interval_s) &&
             raw->drain_request.load() == drain_at_start)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

void AgentDaemon::StopWorker(const std::string& disk_id) {
  std::unique_ptr<Worker> w;
  {
    std::lock_guard l(mu_);
    auto it = workers_.find(disk_id);
    if (it == workers_.end()) return;
    w = std::move(it->second);
    workers_.erase(it);
  }
  w->stop = true;
  if (w->sender) w->sender->Stop();
  if (w->thread.joinable()) w->thread.join();
}

// True when the vault's assignment carries a resync epoch other than the running one.
static bool NewResyncEpoch(const json& running, std::map<std::string, json>::const_iterator wanted,
                           std::map<std::string, json>::const_iterator end) {
  if (wanted == end) return false;
  const uint64_t epoch = CaptureField(wanted->second, "resync_epoch");
  return epoch != 0 && epoch != CaptureField(running, "resync_epoch");
}

void AgentDaemon::Reconcile(const std::string& assignments_json) {
  json assignments = json::parse(assignments_json, nullptr, false);
  if (!assignments.is_array()) return;
  std::map<std::string, json> wanted;
  for (const auto& a : assignments)
    if (a.is_object() && a.contains("disk_id") && a["disk_id"].is_string()) wanted[a["disk_id"]] = a;
  std::vector<std::string> stop;
  {
    std::lock_guard l(mu_);
    for (auto& [id, w] : workers_) {
      auto it = wanted.find(id);
      if (it != wanted.end()) {
        // A drain request (or its end) reaches the running worker; alone it restarts nothing.
        const uint64_t drain = DrainRequestOf(it->second);
        if (w->drain_request.exchange(drain) != drain)
          log::Info(kLog, id + (drain ? ": the vault asks for a drain (planned failover)"
                                      : ": drain request lifted"));
        if (WithoutLiveFields(it->second) == WithoutLiveFields(w->assignment)) {
          w->assignment = it->second;
          continue;
        }
      }
      const char* what = it == wanted.end() ? ": no longer assigned by the vault" : ": policy changed";
      if (w->assignment.value("mode", "scan") == "nbd" && !NewResyncEpoch(w->assignment, it, wanted.end())) {
        // The machine's own disk: it stays served while the machine may run (a new resync
        // epoch restarts it: the disk was written behind the agent's back, e.g. by a failback).
        if (!w->pending_change_logged)
          log::Warn(kLog, id + what + "; the disk is served over NBD to its machine, so this takes effect when the "
                                      "agent restarts");
        w->pending_change_logged = true;
        continue;
      }
      log::Info(kLog, id + what + (it == wanted.end() ? "; stopping it" : "; restarting it"));
      stop.push_back(id);
    }
  }
  for (const auto& id : stop) StopWorker(id);
  for (const auto& [id, a] : wanted) StartWorker(a.dump());
}

void AgentDaemon::ReportOnce() {
  json disks = json::array();
  {
    std::lock_guard l(mu_);
    for (auto& [id, w] : workers_) {
      std::lock_guard wl(w->mu);
      if (!w->report.is_null()) disks.push_back(w->report);
    }
  }
  if (disks.empty()) return;
  api::ApiClient client({config_.vault_url, config_.ca_path, config_.token});
  auto r = client.Post("/v1/agents/" + config_.agent_id + "/report", json{{"disks", disks}});
  if (!r.ok()) log::Warn(kLog, "report to the vault failed: " + r.status().ToString());
}

Status AgentDaemon::Run() {
  api::ApiClient client({config_.vault_url, config_.ca_path, config_.token});
  auto last_poll = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!stop_) {
    if (std::chrono::steady_clock::now() - last_poll > std::chrono::seconds(2)) {
      last_poll = std::chrono::steady_clock::now();
      auto a = client.Get("/v1/agents/" + config_.agent_id + "/assignments");
      if (!a.ok()) log::Warn(kLog, "cannot fetch assignments: " + a.status().ToString());
      else Reconcile(a->dump());
    }
    ReportOnce();
    for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

}  // namespace lifeline::agent
