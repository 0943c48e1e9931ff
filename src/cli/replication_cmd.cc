// `lifeline vault init|run|key`, `lifeline agent register|run`, `lifeline machine
// protect|status|list|delete`, `lifeline point list`: the daemons and the CLI over the vault's API.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <iostream>
#include <thread>

#include "agent/agent_daemon.h"
#include "api/api_server.h"
#include "api/client.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"
#include "vault/vault.h"

namespace lifeline::cli {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
void InstallSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }


std::string Pct(const json& d) {
  if (!d.contains("agent")) return "waiting for the agent";
  const json& a = d["agent"];
  std::string phase = a.value("phase", "?");
  char buf[160];
  if (phase == "idle") return "up to date";
  std::snprintf(buf, sizeof buf, "%s %.1f%%, %s/s, ETA %s", phase.c_str(), a.value("percent", 0.0),
                FormatBytes(a.value("bytes_per_s", 0.0)).c_str(), FormatDuration(a.value("eta_s", 0.0)).c_str());
  return buf;
}

void PrintMachine(const json& m) {
  std::cout << m.value("name", "") << "  state " << m.value("state", "") << "  health " << m.value("health", "")
            << "  agent " << m.value("agent", "") << "  policy " << m.value("policy", "");
  if (m.contains("capture") && m["capture"].is_object()) std::cout << "  mode " << m["capture"].value("mode", "scan");
  if (m.contains("group")) std::cout << "  group " << m.value("group", "");
  std::cout << "\n";
  if (m.value("direction", "") == "reverse") {
    if (m.contains("reverse") && m["reverse"].is_object())
      std::cout << "  direction reverse: replicated by agent " << m["reverse"].value("agent", "") << " to "
                << m["reverse"].value("vault", "") << " since " << m["reverse"].value("since", "")
                << " (its `machine status` has the reverse health and RPO)\n";
    else
      std::cout << "  direction reverse: the original disks were synced offline; `failback start` brings it home\n";
  }
  for (const auto& d : m["disks"]) {
    std::cout << "  " << d.value("disk_id", "") << "  " << d.value("path", "") << "  "
              << FormatBytes(double(d.value("size_bytes", uint64_t(0)))) << "  " << Pct(d);
    if (d.contains("rpo_seconds") && !d["rpo_seconds"].is_null())
      std::cout << "  RPO " << FormatDuration(d["rpo_seconds"].get<double>());
    std::cout << "  points " << d.value("points", 0) << "  health " << d.value("health", "") << "\n";
    bool nbd = m.contains("capture") && m["capture"].is_object() && m["capture"].value("mode", "") == "nbd";
    if (nbd && !(d.contains("agent") && d["agent"].is_object() && d["agent"].contains("nbd_url")))
      std::cout << "    nbd nbd://" << m["capture"].value("nbd_listen", "") << " (configured; the agent is not reporting)\n";
    if (d.contains("agent") && d["agent"].is_object() && d["agent"].contains("nbd_url"))
      std::cout << "    nbd " << d["agent"].value("nbd_url", "") << "  capture " << d["agent"].value("capture_state", "")
                << "  lag " << d["agent"].value("lag_ms", int64_t(0)) << " ms\n";
    if (d.contains("agent") && d["agent"].is_object() && d["agent"].contains("sync") &&
        d["agent"]["sync"].is_object() && !d["agent"]["sync"].empty()) {
      const json& s = d["agent"]["sync"];
      std::cout << "    first sync: " << s.value("phase", "") << ", " << s.value("blocks_changed", uint64_t(0))
                << " blocks (" << FormatBytes(double(s.value("bytes_sent", uint64_t(0)))) << ") sent in "
                << FormatDuration(s.value("seconds", 0.0)) << "\n";
    }
    for (const auto& r : d.value("health_reasons", json::array())) std::cout << "    - " << r.get<std::string>() << "\n";
  }
  for (const auto& s : m.value("seeds", json::array()))
    std::cout << "  seed " << s.value("disk_id", "") << " from " << s.value("seed", "") << ": " << s.value("mode", "")
              << (s.contains("reason") ? " (" + s.value("reason", "") + ")" : std::string()) << "\n";
}

}  // namespace

void RegisterReplicationCommands(CLI::App& app) {
  // ---- vault ----
  auto* vault_cmd = app.add_subcommand("vault", "the recovery-site daemon");
  vault_cmd->require_subcommand(1);
  auto vdir = std::make_shared<std::string>();
  auto names = std::make_shared<std::vector<std::string>>();
  auto* init = vault_cmd->add_subcommand("init", "create a vault: store, catalog, CA, server certificate, admin token");
  init->add_option("--dir", *vdir, "vault directory")->required();
  init->add_option("--name", *names, "extra DNS names or IPs for the server certificate");
  init->add_flag("--json", Globals().json, "JSON output");
  init->callback([vdir, names] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto r, vault::Vault::Init(*vdir, *names));
      if (Globals().json)
        PrintJson({{"admin_token", r.admin_token}, {"registration_key", r.registration_key}, {"ca", r.ca_cert_path}});
      else
        std::cout << "vault created in " << *vdir << "\n"
                  << "admin token (shown once; keep it):   " << r.admin_token << "\n"
                  << "registration key for one agent:      " << r.registration_key << "\n"
                  << "CA certificate for agents and CLIs:  " << r.ca_cert_path << "\n";
      return Status::Ok();
    });
  });
  auto run_opts = std::make_shared<vault::VaultOptions>();
  auto* run = vault_cmd->add_subcommand("run", "serve replication and the REST API until SIGTERM");
  run->add_option("--dir", run_opts->dir, "vault directory")->required();
  run->add_option("--listen", run_opts->replication_listen, "replication listener host:port (default 127.0.0.1:0)");
  run->add_option("--api", run_opts->api_listen, "REST API listener host:port (default 127.0.0.1:0)");
  run->add_flag("--insecure", run_opts->insecure, "plain TCP replication without TLS (tests only)");
  run->add_option("--nice", run_opts->replication_nice,
                  "CPU priority of the replication data path, 0..20 (20: idle class); for a vault that "
                  "shares its host with protected machines")
      ->check(CLI::Range(0, 20));
  run->add_option("--retention-interval", run_opts->retention_interval_s, "seconds between retention runs");
  run->add_option("--network-driver", run_opts->network_driver,
                  "what performs the network actions of recovery plans: command:PATH (an operator "
                  "program run for every step) or lab:NAME[:STATE_DIR] (a running `lifeline lab`)");
  run->callback([run_opts] {
    RunCommand([&]() -> Status {
      log::SetLevelFromEnv(log::Level::kInfo);
      InstallSignals();
      LL_ASSIGN_OR_RETURN(auto v, vault::Vault::Open(*run_opts));
      LL_RETURN_IF_ERROR(v->StartReplication());
      LL_ASSIGN_OR_RETURN(auto api, api::ApiServer::Start(v.get(), run_opts->api_listen));
      LL_RETURN_IF_ERROR(v->WriteEndpoints(api->port()));
      std::cerr << "vault running: replication port " << v->replication_port() << ", API port " << api->port() << "\n";
      std::cout << "replication " << v->replication_port() << "\napi " << api->port() << std::endl;
      while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::cerr << "vault stopping\n";
      api->Stop();
      v->Stop();
      return Status::Ok();
    });
  });
  auto* key = vault_cmd->add_subcommand("key", "create a one-time agent registration key");
  auto key_flags = std::make_shared<ClientFlags>();
  key_flags->Add(key);
  key->callback([key_flags] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, key_flags->Client());
      LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/registration-keys", json::object()));
      if (Globals().json) PrintJson(r);
      else std::cout << r.value("registration_key", "") << "\n";
      return Status::Ok();
    });
  });

  // ---- agent ----
  auto* agent_cmd = app.add_subcommand("agent", "the primary-site daemon");
  agent_cmd->require_subcommand(1);
  auto reg = std::make_shared<agent::RegisterRequest>();
  auto* regc = agent_cmd->add_subcommand("register", "obtain a client certificate with a one-time key");
  regc->add_option("--vault", reg->vault_url, "vault API URL (https://host:port)")->required();
  regc->add_option("--ca", reg->ca_path, "the vault's CA certificate (from the vault host)")->required();
  regc->add_option("--key", reg->key, "one-time registration key")->required();
  regc->add_option("--name", reg->name, "agent name")->required();
  regc->add_option("--dir", reg->dir, "agent directory")->required();
  regc->add_option("--replication", reg->replication, "vault replication addresses host:port, in order of preference");
  regc->add_flag("--json", Globals().json, "JSON output");
  regc->callback([reg] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto c, agent::RegisterWithVault(*reg));
      if (Globals().json) PrintJson({{"agent_id", c.agent_id}, {"replication", c.replication}});
      else std::cerr << "agent " << c.agent_id << " registered; replication to " << json(c.replication).dump() << "\n";
      return Status::Ok();
    });
  });
  auto adir = std::make_shared<std::string>();
  auto abw = std::make_shared<std::string>();
  auto* arun = agent_cmd->add_subcommand("run", "replicate the disks the vault assigns until SIGTERM");
  arun->add_option("--dir", *adir, "agent directory")->required();
  arun->add_option("--bandwidth", *abw,
                   "bandwidth limit of the whole agent, all disks together, in bytes/s (e.g. 200M; "
                   "each policy's per-disk limit applies as well)");
  arun->callback([adir, abw] {
    RunCommand([&]() -> Status {
      log::SetLevelFromEnv(log::Level::kInfo);
      InstallSignals();
      LL_ASSIGN_OR_RETURN(auto cfg, agent::LoadAgentConfig(*adir));
      if (!abw->empty()) {
        auto bytes = ParseBytes(*abw);
        if (!bytes.ok()) return bytes.status().WithContext("--bandwidth");
        cfg.bandwidth_limit_bytes_per_second = *bytes;
      }
      agent::AgentDaemon daemon(*adir, cfg);
      std::thread stopper([&] {
        while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        daemon.Stop();
      });
      std::cerr << "agent " << cfg.agent_id << " running";
      if (cfg.bandwidth_limit_bytes_per_second)
        std::cerr << ", at most " << FormatBytes(cfg.bandwidth_limit_bytes_per_second) << "/s";
      std::cerr << "\n";
      Status s = daemon.Run();
      g_stop = true;
      stopper.join();
      return s;
    });
  });

  // ---- machine ----
  auto* machine = app.add_subcommand("machine", "protected machines");
  machine->require_subcommand(1);
  struct ProtectArgs {
    ClientFlags flags;
    std::string name, agent, policy = "default";
    std::vector<std::string> disks;
    std::vector<std::string> seeds;
    std::string mode = "scan";
    std::string nbd_listen = "127.0.0.1:0";
    int64_t point_interval_s = 5;
    bool wait = false;
  };
  auto pa = std::make_shared<ProtectArgs>();
  auto* protect = machine->add_subcommand("protect", "protect a machine's disks through an agent");
  protect->add_option("name", pa->name, "machine name")->required();
  protect->add_option("--disk", pa->disks, "disk image or block device path on the agent's host")->required();
  protect->add_option("--agent", pa->agent, "the agent that reads the disks")->required();
  protect->add_option("--policy", pa->policy, "replication policy (default: default)");
  protect->add_option("--seed", pa->seeds,
                      "an image of the disk on the vault's host (one per --disk, in order): the replica starts "
                      "from it and the first sync sends only blocks whose hashes differ");
  protect->add_option("--mode", pa->mode, "capture mode: scan (periodic) or nbd (continuous: the agent serves the disk over NBD)");
  protect->add_option("--nbd-listen", pa->nbd_listen, "nbd mode: host:port the agent serves the disk on (default 127.0.0.1:0)");
  protect->add_option("--point-interval", pa->point_interval_s, "nbd mode: seconds between crash-consistent points (default 5)")
      ->check(CLI::Range(int64_t(1), int64_t(86400)));
  protect->add_flag("--wait", pa->wait, "follow initial replication with a progress bar until it completes");
  pa->flags.Add(protect);
  protect->callback([pa] {
    RunCommand([&]() -> Status {
      if (pa->mode != "scan" && pa->mode != "nbd")
        return Status::InvalidArgument("capture mode '" + pa->mode + "' is not known: use scan or nbd");
      LL_ASSIGN_OR_RETURN(auto client, pa->flags.Client());
      json disks = json::array();
      for (const auto& path : pa->disks) {
        auto f = FileSystem::Posix()->Open(path, OpenMode::kRead);
        if (!f.ok()) return f.status().WithContext("disk " + path);
        LL_ASSIGN_OR_RETURN(uint64_t size, (*f)->Size());
        disks.push_back({{"path", path}, {"size_bytes", size}});
      }
      if (pa->seeds.size() > disks.size()) return Status::InvalidArgument("more --seed than --disk");
      for (size_t i = 0; i < pa->seeds.size(); ++i) disks[i]["seed"] = pa->seeds[i];
      LL_ASSIGN_OR_RETURN(json m, client.Post("/v1/machines", {{"name", pa->name}, {"agent", pa->agent},
                                                             {"policy", pa->policy}, {"disks", disks},
                                                             {"mode", pa->mode}, {"nbd_listen", pa->nbd_listen},
                                                             {"point_interval_s", pa->point_interval_s}}));
      if (pa->wait) {
        uint64_t total = 0;
        for (const auto& d : m["disks"]) total += d.value("size_bytes", uint64_t(0));
        ProgressBar bar("initial replication " + pa->name, total, !Globals().json);
        for (;;) {
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          LL_ASSIGN_OR_RETURN(m, client.Get("/v1/machines/" + pa->name));
          uint64_t done = 0;
          bool all = true;
          for (const auto& d : m["disks"]) {
            const json a = d.value("agent", json::object());
            all &= a.value("initial_complete", false);
            done += all ? d.value("size_bytes", uint64_t(0)) : a.value("bytes_done", uint64_t(0));
            std::string err = a.value("last_error", "");
            if (a.value("phase", "") == "error" && !err.empty()) return Status::IOError("disk " + d.value("disk_id", "") + ": " + err);
          }
          bar.Update(std::min(done, total));
          if (all && m.value("state", "") == "protected") break;
        }
        bar.Finish();
      }
      if (Globals().json) PrintJson(m);
      else PrintMachine(m);
      return Status::Ok();
    });
  });
  auto sf = std::make_shared<ClientFlags>();
  auto sname = std::make_shared<std::string>();
  auto* status = machine->add_subcommand("status", "state, health, RPO and replication progress");
  status->add_option("name", *sname, "machine name (default: all)");
  sf->Add(status);
  status->callback([sf, sname] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, sf->Client());
      if (!sname->empty()) {
        LL_ASSIGN_OR_RETURN(json m, client.Get("/v1/machines/" + *sname));
        if (Globals().json) PrintJson(m);
        else PrintMachine(m);
        return Status::Ok();
      }
      LL_ASSIGN_OR_RETURN(json all, client.Get("/v1/machines"));
      if (Globals().json) PrintJson(all);
      else
        for (const auto& m : all) PrintMachine(m);
      return Status::Ok();
    });
  });
  auto lf = std::make_shared<ClientFlags>();
  auto* list = machine->add_subcommand("list", "protected machines, one line each");
  lf->Add(list);
  list->callback([lf] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, lf->Client());
      LL_ASSIGN_OR_RETURN(json all, client.Get("/v1/machines"));
      if (Globals().json) return PrintJson(all), Status::Ok();
      for (const auto& m : all)
        std::cout << m.value("name", "") << "\t" << m.value("state", "") << "\t" << m.value("health", "") << "\t"
                  << m["disks"].size() << " disk(s)\n";
      return Status::Ok();
    });
  });

  struct DeleteArgs {
    ClientFlags flags;
    std::string name;
    bool force = false, keep_replica = false;
  };
  auto da = std::make_shared<DeleteArgs>();
  auto* del = machine->add_subcommand(
      "delete", "remove a machine from the vault: catalog, replicas, the agent's assignment");
  del->add_option("name", da->name, "machine name")->required();
  del->add_flag("--force", da->force,
                "delete even while a drill runs or the machine is failed over (its copies and "
                "exports are stopped)");
  del->add_flag("--keep-replica", da->keep_replica,
                "keep the replica files (protecting the same name again starts from them)");
  da->flags.Add(del);
  del->callback([da] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, da->flags.Client());
      std::string query;
      if (da->force) query += "force=true";
      if (da->keep_replica) query += std::string(query.empty() ? "" : "&") + "keep_replica=true";
      LL_ASSIGN_OR_RETURN(
          json out, client.Delete("/v1/machines/" + da->name + (query.empty() ? "" : "?" + query)));
      if (Globals().json) return PrintJson(out), Status::Ok();
      std::cerr << "machine " << da->name << " deleted (was " << out.value("state", "") << ")\n";
      for (const auto& line : out.value("released", json::array()))
        std::cerr << "  " << line.get<std::string>() << "\n";
      for (const auto& d : out.value("disks", json::array())) {
        std::cerr << "  " << d.value("disk_id", "") << ": replica " << d.value("replica", "");
        if (d.contains("reason")) std::cerr << " (" << d.value("reason", "") << ")";
        std::cerr << "\n";
      }
      return Status::Ok();
    });
  });

  // ---- policy ----
  auto* policy = app.add_subcommand("policy", "replication policies");
  policy->require_subcommand(1);
  struct PolicyArgs {
    ClientFlags flags;
    std::string name, interval, retention, rpo_warning, rpo_critical, compression, bandwidth, pre_hook, post_hook,
        app_interval;
    int streams = -1;  // -1: not given (unchanged)
  };
  auto pol = std::make_shared<PolicyArgs>();
  auto* pset = policy->add_subcommand("set", "create or change a policy");
  pset->add_option("name", pol->name, "policy name")->required();
  pset->add_option("--interval", pol->interval, "time between recovery points (e.g. 5s, 5m)");
  pset->add_option("--retention", pol->retention, "retention window (e.g. 24h, 3d)");
  pset->add_option("--rpo-warning", pol->rpo_warning, "RPO above which health is Warning");
  pset->add_option("--rpo-critical", pol->rpo_critical, "RPO above which health is Critical");
  pset->add_option("--streams", pol->streams, "parallel streams per disk (1..32)");
  pset->add_option("--compression", pol->compression, "none | lz4 | zstd");
  pset->add_option("--bandwidth", pol->bandwidth, "bandwidth limit per disk in bytes/s (e.g. 100M), 0 = none");
  pset->add_option("--pre-hook", pol->pre_hook, "command run before each scan cycle (freeze)");
  pset->add_option("--post-hook", pol->post_hook, "command run after each scan cycle's point (thaw)");
  pset->add_option("--app-interval", pol->app_interval,
                   "nbd mode: time between app-consistent points (hooks run around each), 0 = off (e.g. 1h)");
  pol->flags.Add(pset);
  pset->callback([pol] {
    RunCommand([&]() -> Status {
      json req = {{"name", pol->name}};
      auto dur = [&](const std::string& text, const char* key) -> Status {
        if (text.empty()) return Status::Ok();
        LL_ASSIGN_OR_RETURN(int64_t s, ParseDurationSeconds(text));
        req[key] = s;
        return Status::Ok();
      };
      LL_RETURN_IF_ERROR(dur(pol->interval, "interval_s"));
      LL_RETURN_IF_ERROR(dur(pol->retention, "retention_s"));
      LL_RETURN_IF_ERROR(dur(pol->rpo_warning, "rpo_warning_s"));
      LL_RETURN_IF_ERROR(dur(pol->rpo_critical, "rpo_critical_s"));
      if (pol->app_interval == "0") req["app_interval_s"] = 0;
      else LL_RETURN_IF_ERROR(dur(pol->app_interval, "app_interval_s"));
      if (pol->streams != -1) req["streams"] = pol->streams;  // 0 is sent and refused
      if (!pol->compression.empty()) req["compression"] = pol->compression;
      if (!pol->bandwidth.empty()) {
        LL_ASSIGN_OR_RETURN(uint64_t b, ParseBytes(pol->bandwidth));
        req["bandwidth_limit_bytes_per_s"] = b;
      }
      if (!pol->pre_hook.empty()) req["pre_hook"] = pol->pre_hook;
      if (!pol->post_hook.empty()) req["post_hook"] = pol->post_hook;
      LL_ASSIGN_OR_RETURN(auto client, pol->flags.Client());
      LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/policies", req));
      if (Globals().json) PrintJson(r);
      else std::cout << r.dump() << "\n";
      return Status::Ok();
    });
  });
  auto plf = std::make_shared<ClientFlags>();
  auto* plist2 = policy->add_subcommand("list", "the replication policies");
  plf->Add(plist2);
  plist2->callback([plf] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, plf->Client());
      LL_ASSIGN_OR_RETURN(json r, client.Get("/v1/policies"));
      if (Globals().json) PrintJson(r);
      else
        for (const auto& p : r) std::cout << p.dump() << "\n";
      return Status::Ok();
    });
  });

  // ---- point ----
  auto* point = app.add_subcommand("point", "recovery points");
  point->require_subcommand(1);
  auto pf = std::make_shared<ClientFlags>();
  auto pm = std::make_shared<std::string>();
  auto* plist = point->add_subcommand("list", "the recovery points of a machine's disks");
  plist->add_option("machine", *pm, "machine name")->required();
  pf->Add(plist);
  plist->callback([pf, pm] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, pf->Client());
      LL_ASSIGN_OR_RETURN(json pts, client.Get("/v1/machines/" + *pm + "/points"));
      if (Globals().json) return PrintJson(pts), Status::Ok();
      for (const auto& p : pts)
        std::cout << p.value("disk_id", "") << "\t" << p.value("id", 0) << "\t" << p.value("time", "") << "\tseq "
                  << p.value("seq", 0) << "\t" << p.value("kind", "") << "\t" << p.value("label", "") << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace lifeline::cli
