#include "vault/reverse_replication.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "api/client.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/units.h"

namespace lifeline::vault {

using control::MachineEvent;
using control::MachineState;
using nlohmann::json;

namespace {

constexpr uint64_t kBlockBytes = 64 * 1024;
constexpr int64_t kPollMs = 500;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::string> Str(const json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) return Status::InvalidArgument(std::string("reverse.") + key + " is required");
    return std::string();
  }
  if (!j[key].is_string() || (required && j[key].get<std::string>().empty()))
    return Status::InvalidArgument(std::string("reverse.") + key + " must be a non-empty string");
  return j[key].get<std::string>();
}

api::ApiClient Peer(const json& cfg) {
  return api::ApiClient({cfg.value("vault", ""), cfg.value("ca", ""), cfg.value("token", "")});
}

// The peer vault's view of the machine, or NotFound.
Result<json> PeerStatus(api::ApiClient& peer, const std::string& machine) {
  return peer.Get("/v1/machines/" + machine);
}

// Waits until the peer's machine reaches one of `wanted`; fails when it reaches `failed`.
Result<json> WaitPeerState(api::ApiClient& peer, control::StepContext& ctx,
                           const std::string& machine, const std::vector<std::string>& wanted,
                           const std::string& failed, int64_t timeout_ms, bool report_percent) {
  const int64_t deadline = SteadyMs() + timeout_ms;
  std::string last_state;
  while (true) {
    auto st = PeerStatus(peer, machine);
    if (st.ok()) {
      const std::string state = st->value("state", "");
      if (state != last_state) ctx.Log("primary vault: " + machine + " is " + state);
      last_state = state;
      if (std::find(wanted.begin(), wanted.end(), state) != wanted.end()) return *st;
      if (!failed.empty() && state == failed)
        return Status::FailedPrecondition("the primary vault's " + machine + " went back to " +
                                          state + " (see its job list)");
      if (report_percent && (*st)["disks"].is_array() && !(*st)["disks"].empty()) {
        double sum = 0;
        for (const auto& d : (*st)["disks"])
          if (d.contains("agent") && d["agent"].contains("percent") &&
              d["agent"]["percent"].is_number())
            sum += d["agent"]["percent"].get<double>();
        ctx.Progress(static_cast<int>(sum / double((*st)["disks"].size())));
      }
    } else {
      ctx.Log("primary vault: " + st.status().ToString());
    }
    if (SteadyMs() > deadline)
      return Status::Busy("the primary vault's " + machine + " did not become " + wanted.front() +
                          " within " + std::to_string(timeout_ms / 1000) + " s (last state " +
                          (last_state.empty() ? "unknown" : last_state) + ")");
    if (!ctx.SleepMs(kPollMs)) return Status::Busy("stopped while waiting for the primary vault");
  }
}

}  // namespace

std::string ReverseFile(const RecoveryOptions& o, const std::string& machine) {
  return JoinPath(RecoveryDir(o, machine), "reverse.json");
}

bool HasReverseConfig(const RecoveryOptions& o, const std::string& machine) {
  struct stat st {};
  return ::stat(ReverseFile(o, machine).c_str(), &st) == 0;
}

Result<json> ParseReverseConfig(const json& reverse) {
  if (!reverse.is_object()) return Status::InvalidArgument("reverse must be an object");
  json cfg;
  LL_ASSIGN_OR_RETURN(cfg["vault"], Str(reverse, "vault", true));
  if (cfg["vault"].get<std::string>().rfind("https://", 0) != 0)
    return Status::InvalidArgument(
        "reverse.vault must be https://HOST:PORT (the primary vault's API)");
  LL_ASSIGN_OR_RETURN(cfg["ca"], Str(reverse, "ca", true));
  LL_ASSIGN_OR_RETURN(cfg["token"], Str(reverse, "token", true));
  LL_ASSIGN_OR_RETURN(cfg["agent"], Str(reverse, "agent", true));
  LL_ASSIGN_OR_RETURN(cfg["policy"], Str(reverse, "policy", false));
  for (const char* key : {"interval_s", "timeout_s"}) {
    if (!reverse.contains(key)) continue;
    if (!reverse[key].is_number_integer() || reverse[key].get<int64_t>() < 1 ||
        reverse[key].get<int64_t>() > 86400)
      return Status::InvalidArgument(std::string("reverse.") + key + " must be 1..86400 seconds");
    cfg[key] = reverse[key];
  }
  return cfg;
}

Status SaveReverseConfig(const RecoveryOptions& o, const std::string& machine,
                         const json& reverse) {
  LL_ASSIGN_OR_RETURN(json cfg, ParseReverseConfig(reverse));
  struct stat st {};
  if (::stat(cfg["ca"].get<std::string>().c_str(), &st) != 0)
    return Status::NotFound("the primary vault's CA certificate " + cfg["ca"].get<std::string>() +
                            " is missing on the recovery vault's host");
  const std::string dir = RecoveryDir(o, machine);
  LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(dir));
  // Created 0600 before the token is written into it, then renamed into place.
  const std::string path = ReverseFile(o, machine);
  const std::string tmp = path + ".tmp";
  const std::string text = cfg.dump(2);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp);
  const bool written = ::fchmod(fd, 0600) == 0 &&
                       ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    (void)::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path);
  }
  return Status::Ok();
}

Result<json> WritePointInto(const store::DiskReplica& replica, uint64_t seq,
                            const std::string& target, control::StepContext& ctx) {
  const uint64_t size = replica.size_bytes();
  struct stat st {};
  const bool delta =
      ::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) == size;
  int fd = ::open(target.c_str(),
                  delta ? (O_RDWR | O_CLOEXEC) : (O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC), 0600);
  if (fd < 0) return Status::IOError("cannot open the original disk " + target);
  Status status;
  if (!delta && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
    status = Status::IOError("cannot size " + target);
  std::vector<uint8_t> src(kBlockBytes), dst(kBlockBytes);
  const std::vector<uint8_t> zeros(kBlockBytes, 0);
  uint64_t blocks = 0, sent = 0, bytes = 0;
  for (uint64_t off = 0; status.ok() && off < size; off += kBlockBytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockBytes, size - off));
    ++blocks;
    status = replica.ReadAt(seq, off, src.data(), n);
    if (!status.ok()) break;
    bool write;
    if (delta) {
      if (::pread(fd, dst.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
        status = Status::IOError("short read of " + target);
        break;
      }
      write = Xxh3(src.data(), n) != Xxh3(dst.data(), n);
    } else {
      write = std::memcmp(src.data(), zeros.data(), n) != 0;  // zero blocks stay holes
    }
    if (!write) continue;
    if (::pwrite(fd, src.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      status = Status::IOError("cannot write " + target);
      break;
    }
    ++sent;
    bytes += n;
    if (blocks % 1024 == 0) ctx.Progress(static_cast<int>(off * 100 / size));
  }
  if (status.ok() && ::fdatasync(fd) != 0) status = Status::IOError("cannot sync " + target);
  ::close(fd);
  LL_RETURN_IF_ERROR(status);
  ctx.Log(replica.disk_id() + " at seq " + std::to_string(seq) + " -> " + target + ": " +
          (delta ? "delta" : "full") + ", " + std::to_string(sent) + " of " +
          std::to_string(blocks) + " blocks written (" + FormatBytes(double(bytes)) + ")");
  return json{{"target", target},
              {"mode", delta ? "delta" : "full"},
              {"blocks", blocks},
              {"blocks_sent", sent},
              {"bytes_sent", bytes}};
}

static Result<json> RunReverseReprotectImpl(const RecoveryDeps& d, control::StepContext& ctx,
                                            const std::string& name) {
  LL_ASSIGN_OR_RETURN(json cfg, ReadJsonFile(ReverseFile(d.options, name)));
  LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(d.options, name)));
  LL_ASSIGN_OR_RETURN(auto m, d.catalog->GetMachineByName(name));
  if (m.state != control::StateName(MachineState::kReprotecting))
    LL_RETURN_IF_ERROR(
        d.lifecycle->SetState(name, MachineEvent::kReprotectStart, d.options.actor).status());
  LL_ASSIGN_OR_RETURN(auto catalog_disks, d.catalog->ListDisks(m.id));
  // The recovery site's agent reads the recovered disks; the primary vault seeds each replica
  // from the original disk (a path on its host), so only differing blocks cross the network.
  json disks = json::array();
  for (const auto& dj : record["disks"]) {
    const std::string disk_id = dj.value("disk_id", "");
    if (!dj.contains("image"))
      return Status::FailedPrecondition(
          name +
          ": continuous re-protect needs the recovered disks as image files, which the "
          "recovery site's agent reads: fail over with --materialize, or re-protect "
          "offline with `lifeline machine reprotect " +
          name + " --target " + disk_id + "=PATH`");
    const control::Disk* original = nullptr;
    for (const auto& cd : catalog_disks)
      if (cd.store_disk_id == disk_id) original = &cd;
    if (original == nullptr) return Status::NotFound("no catalog disk " + disk_id);
    // The agent may run from another directory than the vault: give it an absolute path.
    std::string image = dj.value("image", "");
    if (char* real = ::realpath(image.c_str(), nullptr)) {
      image = real;
      ::free(real);
    }
    disks.push_back(
        {{"path", image}, {"size_bytes", original->size_bytes}, {"seed", original->path}});
  }
  api::ApiClient peer = Peer(cfg);
  std::string policy = cfg.value("policy", "");
  if (policy.empty()) {
    // Points every few seconds: the reverse RPO is the interval plus one scan of the disk.
    policy = "reverse";
    const int64_t interval = cfg.value("interval_s", int64_t{5});
    LL_RETURN_IF_ERROR(
        peer.Post("/v1/policies", json{{"name", policy},
                                       {"interval_s", interval},
                                       {"rpo_warning_s", std::max<int64_t>(60, 6 * interval)},
                                       {"rpo_critical_s", std::max<int64_t>(300, 30 * interval)}})
            .status()
            .WithContext("primary vault policy"));
  }
  auto existing = PeerStatus(peer, name);
  if (!existing.ok() && existing.status().code() != Code::kNotFound)
    return existing.status().WithContext("primary vault " + cfg.value("vault", ""));
  bool create = !existing.ok();
  if (existing.ok()) {
    const std::string state = existing->value("state", "");
    if (state == "committed") {
      // Left by an earlier failback (the primary vault's failover into the original disks,
      // committed): its reverse replica is history, the original disks seed a new one.
      ctx.Log("primary vault: " + name +
              " is committed there from an earlier failback: deleting it");
      LL_RETURN_IF_ERROR(
          peer.Delete("/v1/machines/" + name).status().WithContext("primary vault machine delete"));
      create = true;
    } else if (state != "enabling" && state != "initial-replication" && state != "protected") {
      return Status::FailedPrecondition("the primary vault already has a machine " + name +
                                        " in state " + state +
                                        ": remove it there (`lifeline machine delete " + name +
                                        "` at the primary vault) before re-protecting again");
    } else {
      ctx.Log("primary vault: " + name + " already protected there (" + state + "), waiting");
    }
  }
  if (create) {
    auto created = peer.Post("/v1/machines", json{{"name", name},
                                                  {"agent", cfg.value("agent", "")},
                                                  {"policy", policy},
                                                  {"mode", "scan"},
                                                  {"disks", disks}});
    if (created.ok()) {
      for (const auto& s : created->value("seeds", json::array()))
        ctx.Log("primary vault: " + s.value("disk_id", "") + " seeded from " + s.value("seed", "") +
                " (" + s.value("mode", "") + ")");
      record["reverse_seeds"] = created->value("seeds", json::array());
    } else if (created.status().code() == Code::kIOError && PeerStatus(peer, name).ok()) {
      // Importing a large seed outlasts the request; the machine is there and carries on.
      ctx.Log("primary vault: " + created.status().ToString() + "; the machine exists, waiting");
    } else {
      return created.status().WithContext("primary vault " + cfg.value("vault", ""));
    }
  }
  const int64_t timeout_ms = cfg.value("timeout_s", int64_t{24 * 3600}) * 1000;
  LL_ASSIGN_OR_RETURN(json st, WaitPeerState(peer, ctx, name, {"protected"}, "", timeout_ms, true));
  json stats = json::array();
  for (const auto& disk : st["disks"]) {
    // The peer's JSON is input: anything but an object reads as "no figures".
    json a = disk.is_object() ? disk.value("agent", json::object()) : json::object();
    if (!a.is_object()) a = json::object();
    json sync = a.value("sync", json::object());
    if (!sync.is_object()) sync = json::object();
    json s = {{"disk_id", disk.value("disk_id", "")},
              {"path", disk.value("path", "")},
              {"size_bytes", disk.value("size_bytes", uint64_t{0})},
              {"phase", sync.value("phase", "")},
              {"blocks_sent", sync.value("blocks_changed", uint64_t{0})},
              {"bytes_sent", sync.value("bytes_sent", uint64_t{0})},
              {"bytes_on_wire", disk.value("bytes_received", uint64_t{0})}};
    ctx.Log("reverse " + s["disk_id"].get<std::string>() + ": first sync " +
            s["phase"].get<std::string>() + ", " +
            std::to_string(s["blocks_sent"].get<uint64_t>()) + " blocks (" +
            FormatBytes(double(s["bytes_sent"].get<uint64_t>())) + ") sent");
    stats.push_back(s);
  }
  record["reverse"] = {{"vault", cfg.value("vault", "")},
                       {"agent", cfg.value("agent", "")},
                       {"policy", policy},
                       {"since", FormatTime(Clock::System()->NowUnixNanos())},
                       {"disks", stats}};
  LL_RETURN_IF_ERROR(WriteJsonFile(FailoverFile(d.options, name), record));
  LL_RETURN_IF_ERROR(
      d.lifecycle->SetState(name, MachineEvent::kReprotectDone, d.options.actor).status());
  return stats;
}

static Result<json> RunReverseFailbackImpl(const RecoveryDeps& d, control::StepContext& ctx,
                                           const std::string& name) {
  LL_ASSIGN_OR_RETURN(json cfg, ReadJsonFile(ReverseFile(d.options, name)));
  LL_ASSIGN_OR_RETURN(json record, ReadJsonFile(FailoverFile(d.options, name)));
  auto event = [&](MachineEvent e) {
    return d.lifecycle->SetState(name, e, d.options.actor).status();
  };
  LL_ASSIGN_OR_RETURN(auto m, d.catalog->GetMachineByName(name));
  if (m.state == control::StateName(MachineState::kProtected) && m.direction == "reverse")
    LL_RETURN_IF_ERROR(event(MachineEvent::kFailoverStart));
  LL_ASSIGN_OR_RETURN(m, d.catalog->GetMachineByName(name));
  if (m.state != control::StateName(MachineState::kFailoverInProgress))
    return Status::FailedPrecondition("machine " + name + " is " + m.state + " (" + m.direction +
                                      "): a failback needs a re-protected machine (protected, "
                                      "reverse)");
  // Planned: the recovered machine stops first, so its last write is on its disk before the
  // primary vault drains the reverse replication.
  LL_RETURN_IF_ERROR(StopInstances(d, ctx, m));
  LL_ASSIGN_OR_RETURN(auto catalog_disks, d.catalog->ListDisks(m.id));
  json targets = json::object();
  for (const auto& cd : catalog_disks) targets[cd.store_disk_id] = cd.path;
  api::ApiClient peer = Peer(cfg);
  const int64_t timeout_ms = cfg.value("timeout_s", int64_t{3600}) * 1000;
  LL_ASSIGN_OR_RETURN(json st, PeerStatus(peer, name));
  std::string state = st.value("state", "");
  if (state == "protected") {
    // Two capture cycles after the stop: the second one started after the copy stopped, so
    // it read the disk's final content (a cycle already running may have read it earlier).
    ctx.Log("primary vault: planned failover of " + name + " into the original disks");
    auto started = peer.Post("/v1/machines/" + name + "/failover", json{{"planned", true},
                                                                        {"mode", "materialize"},
                                                                        {"launch", false},
                                                                        {"drain_cycles", 2},
                                                                        {"targets", targets}});
    // A long drain answers "running" or times the request out: the state says how it went.
    if (!started.ok()) ctx.Log("primary vault: " + started.status().ToString());
    LL_ASSIGN_OR_RETURN(st, WaitPeerState(peer, ctx, name, {"failed-over", "committed"},
                                          "protected", timeout_ms, false));
    state = st.value("state", "");
  } else if (state == "failover-in-progress") {
    LL_ASSIGN_OR_RETURN(st, WaitPeerState(peer, ctx, name, {"failed-over", "committed"},
                                          "protected", timeout_ms, false));
    state = st.value("state", "");
  }
  if (state == "failed-over") {
    LL_RETURN_IF_ERROR(peer.Post("/v1/machines/" + name + "/failover/commit", json::object())
                           .status()
                           .WithContext("primary vault commit"));
    state = "committed";
  }
  if (state != "committed")
    return Status::FailedPrecondition("the primary vault's " + name + " is " + state +
                                      ": cannot fail back from it");
  json stats = json::array();
  auto rec = peer.Get("/v1/machines/" + name + "/recovery");
  if (rec.ok() && (*rec).contains("failover") && (*rec)["failover"].is_object())
    for (const auto& dj : (*rec)["failover"].value("disks", json::array())) {
      if (!dj.is_object()) continue;
      json s = dj.value("written", json::object());
      if (!s.is_object()) s = json::object();
      s["disk_id"] = dj.value("disk_id", "");
      s["seq"] = dj.value("seq", uint64_t{0});
      s["point"] = dj.value("point", "");
      stats.push_back(s);
    }
  // The recovery site's copy goes; its agent stops once the primary vault no longer assigns
  // the disks (the machine is committed there).
  LL_RETURN_IF_ERROR(StopFailover(d, ctx, m));
  LL_RETURN_IF_ERROR(RequestWholeDiskResync(d, ctx, m));
  LL_RETURN_IF_ERROR(event(MachineEvent::kFailoverDone));
  LL_RETURN_IF_ERROR(event(MachineEvent::kCommit));
  LL_RETURN_IF_ERROR(event(MachineEvent::kReprotectStart));
  LL_RETURN_IF_ERROR(event(MachineEvent::kReprotectDone));
  record["failback"] = stats;
  record["failback_time"] = FormatTime(Clock::System()->NowUnixNanos());
  LL_RETURN_IF_ERROR(
      WriteJsonFile(JoinPath(RecoveryDir(d.options, name), "failback.json"), record));
  (void)::unlink(FailoverFile(d.options, name).c_str());
  (void)::unlink(ReverseFile(d.options, name).c_str());
  return stats;
}

// The peer vault's answers are input: a field of an unexpected type fails the step with
// Corruption instead of escaping as an exception.
Result<json> RunReverseReprotect(const RecoveryDeps& d, control::StepContext& ctx,
                                 const std::string& name) {
  try {
    return RunReverseReprotectImpl(d, ctx, name);
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("unexpected answer from the primary vault: ") + e.what());
  }
}

Result<json> RunReverseFailback(const RecoveryDeps& d, control::StepContext& ctx,
                                const std::string& name) {
  try {
    return RunReverseFailbackImpl(d, ctx, name);
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("unexpected answer from the primary vault: ") + e.what());
  }
}

}  // namespace lifeline::vault
