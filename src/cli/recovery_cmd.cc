// `lifeline drill start|cleanup|status`, `lifeline failover start|change-point|cancel|commit|
// status`, `lifeline machine reprotect`, `lifeline failback start|status`: the recovery
// operations over the vault's REST API (each runs as a job in the vault; `lifeline job show
// ID` has its steps and log). Runs on the CLI thread only.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/client_flags.h"
#include "cli/commands.h"

namespace lifeline::cli {
namespace {

using nlohmann::json;

struct RecoveryFlags {
  ClientFlags client;
  std::string machine;
  // Point choice: at most one of these.
  std::string point;
  std::string time;
  uint64_t seq = 0;
  bool latest = false;
  bool latest_app = false;
  bool latest_group = false;

  std::string plan;  // with --plan: run the stored plan instead of one machine

  void AddClient(CLI::App* c, const std::string& positional = "machine",
                 const std::string& help = "machine name", bool required = true) {
    auto* o = c->add_option(positional, machine, help);
    if (required) o->required();
    client.Add(c);
  }
  void AddPoint(CLI::App* c) {
    auto* g =
        c->add_option_group("point", "the recovery point (default: the latest processed point)");
    g->add_option("--point", point, "a recovery point id (`lifeline point list MACHINE`)");
    g->add_option("--time", time, "the newest write at or before this time (2026-11-23T10:00:00Z)");
    g->add_option("--seq", seq, "any write sequence inside the retention window");
    g->add_flag("--latest", latest, "the newest replicated write (point in time)");
    g->add_flag("--latest-app", latest_app, "the newest app-consistent point");
    g->add_flag("--latest-group", latest_group, "the newest consistency-group point");
    g->require_option(0, 1);
  }
  // "" when no choice was given.
  std::string Choice() const {
    if (!point.empty()) return point;
    if (!time.empty()) return "time:" + time;
    if (seq != 0) return "seq:" + std::to_string(seq);
    if (latest) return "latest";
    if (latest_app) return "latest-app";
    if (latest_group) return "latest-group";
    return "";
  }
  Result<api::ApiClient> Client() const { return client.Client(); }
};

void PrintRecovery(const json& r) {
  if (r.contains("job"))
    std::cout << r.value("kind", "") << " job " << r["job"].get<int64_t>() << ": "
              << r.value("state", "") << "\n";
  if (r.contains("exports"))
    for (const auto& e : r["exports"])
      std::cout << "  export " << e.value("disk_id", "") << "  " << e.value("nbd_url", "") << "  ("
                << e.value("point", "") << ")\n";
  if (r.contains("instances"))
    for (const auto& i : r["instances"])
      std::cout << "  running " << i.value("operation", "") << " copy, pid " << i.value("pid", 0)
                << ", log " << i.value("log", "") << "\n";
  if (r.contains("tagged"))
    for (const auto& t : r["tagged"])
      std::cout << "  point " << t.value("point_id", 0) << " of " << t.value("disk_id", "")
                << " tagged \"" << t.value("tag", "") << "\"\n";
  if (r.contains("failover") && r["failover"].is_object()) {
    const json& f = r["failover"];
    for (const auto& d : f["disks"]) {
      std::cout << "  " << d.value("disk_id", "") << ": " << d.value("point", "") << "  "
                << (d.contains("nbd_url") ? d.value("nbd_url", "") : d.value("image", ""));
      if (d.contains("points_dropped"))
        std::cout << "  (" << d["points_dropped"].get<int>() << " other points dropped)";
      std::cout << "\n";
    }
  }
  if (r.contains("state") && r.contains("drill_state"))
    std::cout << "  machine " << r.value("machine", "") << ": " << r.value("state", "")
              << ", drill " << r.value("drill_state", "") << "\n";
}

void PrintResult(const json& r) {
  if (Globals().json)
    std::cout << r.dump(2) << "\n";
  else
    PrintRecovery(r);
}

// Adds `machine VERB`-style command that POSTs to /v1/machines/M/<path>. With plan_op set,
// the command also takes `--plan P` instead of a machine and runs that stored plan as a
// plan_op job (the same as `plan run P --operation plan_op`).
void AddPost(CLI::App* parent, const std::string& name, const std::string& help,
             const std::string& path, bool with_point,
             std::function<void(CLI::App*, json*)> extra = {}, const std::string& plan_op = "") {
  auto f = std::make_shared<RecoveryFlags>();
  auto body = std::make_shared<json>(json::object());
  auto* c = parent->add_subcommand(name, help);
  f->AddClient(c, "machine", "machine name", plan_op.empty());
  if (!plan_op.empty())
    c->add_option("--plan", f->plan,
                  "run this stored recovery plan (`lifeline plan list`): every machine of it, group by group");
  if (with_point) f->AddPoint(c);
  if (extra) extra(c, body.get());
  c->callback([f, body, path, with_point, plan_op] {
    RunCommand([&]() -> Status {
      json b = *body;
      for (auto it = b.begin(); it != b.end();)  // drop unset options
        it = (it->is_string() && it->get<std::string>().empty()) ? b.erase(it) : std::next(it);
      if (!plan_op.empty()) {
        if (f->plan.empty() == f->machine.empty())
          return Status::InvalidArgument("give either a machine or --plan PLAN");
        if (!f->plan.empty() && !b.empty())
          return Status::InvalidArgument(
              "--launcher-command, --target, --planned, --materialize and --no-launch apply to one "
              "machine; with --plan every machine starts with the launcher stored in the catalog");
      }
      LL_ASSIGN_OR_RETURN(auto client, f->Client());
      if (with_point && !f->Choice().empty()) b["point"] = f->Choice();
      if (!f->plan.empty()) {
        b["operation"] = plan_op;
        std::cerr << "plan " << f->plan << ": " << plan_op << " ...\n";
        LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/plans/" + f->plan + "/run", b));
        PrintResult(r);
        return Status::Ok();
      }
      std::cerr << path << " " << f->machine << " ...\n";
      LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/machines/" + f->machine + "/" + path, b));
      PrintResult(r);
      return Status::Ok();
    });
  });
}

void AddStatus(CLI::App* parent) {
  auto f = std::make_shared<RecoveryFlags>();
  auto* c =
      parent->add_subcommand("status", "state, exports, running copies and the failover record");
  f->AddClient(c);
  c->callback([f] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, f->Client());
      LL_ASSIGN_OR_RETURN(json r, client.Get("/v1/machines/" + f->machine + "/recovery"));
      PrintResult(r);
      return Status::Ok();
    });
  });
}

}  // namespace

void RegisterRecoveryCommands(CLI::App& app) {
  auto* drill = app.add_subcommand(
      "drill", "test failover: start a copy from a point in the drill network, then clean up");
  drill->require_subcommand(1);
  AddPost(drill, "start", "export the machine's disks at a point (copy-on-write) and start it",
          "drill", true, [](CLI::App* c, json* body) {
            c->add_option_function<std::string>(
                "--launcher-command",
                [body](const std::string& v) { (*body)["launcher_command"] = v; },
                "start the copy with this shell command (LIFELINE_DISK_0 ... in its environment)");
          },
          "drill");
  AddPost(drill, "cleanup", "stop the drill copy, remove its exports, tag the point tested",
          "drill/cleanup", false, [](CLI::App* c, json* body) {
            c->add_option_function<std::string>(
                "--note", [body](const std::string& v) { (*body)["note"] = v; },
                "a note for the audit log");
          });
  AddStatus(drill);

  auto targets = [](CLI::App* c, json* body) {
    c->add_option_function<std::vector<std::string>>(
        "--target",
        [body](const std::vector<std::string>& v) {
          for (const auto& t : v) {
            auto eq = t.find('=');
            if (eq == std::string::npos) throw CLI::ValidationError("--target", "use DISK_ID=PATH");
            (*body)["targets"][t.substr(0, eq)] = t.substr(eq + 1);
          }
        },
        "DISK_ID=PATH: the original disk at the primary site (default: the disk's protected path)");
  };
  auto* failover = app.add_subcommand(
      "failover", "fail a machine over to the recovery site, then commit or cancel");
  failover->require_subcommand(1);
  AddPost(failover, "start", "fail over: planned (drain, final point) or from a chosen point",
          "failover", true, [](CLI::App* c, json* body) {
            c->add_flag_callback(
                "--planned", [body] { (*body)["planned"] = true; },
                "the source is shut down: wait for the drain and use a final point (no data loss)");
            c->add_flag_callback(
                "--materialize", [body] { (*body)["mode"] = "materialize"; },
                "write raw images instead of exporting over NBD");
            c->add_flag_callback(
                "--no-launch", [body] { (*body)["launch"] = false; },
                "prepare the disks only; do not start the machine");
            c->add_option_function<std::string>(
                "--launcher-command",
                [body](const std::string& v) { (*body)["launcher_command"] = v; },
                "start the machine with this shell command");
            c->add_option_function<std::vector<std::string>>(
                "--target",
                [body](const std::vector<std::string>& v) {
                  for (const auto& t : v) {
                    auto eq = t.find('=');
                    if (eq == std::string::npos) throw CLI::ValidationError("--target", "use DISK_ID=PATH");
                    (*body)["targets"][t.substr(0, eq)] = t.substr(eq + 1);
                  }
                },
                "with --materialize: DISK_ID=PATH, write the point into this disk (only differing blocks)");
          },
          "failover");
  AddPost(failover, "change-point", "fail over again to another point (before commit)",
          "failover/change-point", true);
  AddPost(failover, "cancel", "stop the failed-over copy and go back to protection",
          "failover/cancel", false);
  AddPost(failover, "commit", "accept the failover: the other recovery points are dropped",
          "failover/commit", false);
  AddStatus(failover);

  // Re-protect and failback. `machine` is registered by replication_cmd.cc (called first).
  CLI::App* machine = nullptr;
  try {
    machine = app.get_subcommand("machine");
  } catch (const CLI::OptionNotFound&) {
    machine = app.add_subcommand("machine", "protected machines");
  }
  AddPost(machine, "reprotect",
          "after commit: reverse replication to the primary vault (--to-vault), or a one-shot sync "
          "of the original disks (--target / default)",
          "reprotect", false, [targets](CLI::App* c, json* body) {
            targets(c, body);
            auto set = [body](const char* key) {
              return [body, key](const std::string& v) { (*body)["reverse"][key] = v; };
            };
            c->add_option_function<std::string>(
                "--to-vault", set("vault"),
                "continuous: the primary site's vault API (https://host:port) that receives the reverse replica");
            c->add_option_function<std::string>("--to-ca", set("ca"),
                                                "the primary vault's CA certificate (on the recovery vault's host)");
            c->add_option_function<std::string>("--to-token", set("token"),
                                                "an admin token of the primary vault");
            c->add_option_function<std::string>(
                "--agent", set("agent"),
                "the agent at the recovery site, registered with the primary vault, that reads the recovered disks");
            c->add_option_function<std::string>(
                "--policy", set("policy"), "the primary vault's policy (default: `reverse`, points every --interval s)");
            c->add_option_function<int64_t>(
                "--interval", [body](int64_t v) { (*body)["reverse"]["interval_s"] = v; },
                "seconds between reverse recovery points (default 5)")
                ->check(CLI::Range(int64_t(1), int64_t(86400)));
          });
  auto* failback =
      app.add_subcommand("failback", "bring a re-protected machine home: planned failover back");
  failback->require_subcommand(1);
  AddPost(failback, "start",
          "shut the recovered copy down, send the last changes home, protect forward again",
          "failback", false, targets, "failback");
  AddStatus(failback);

  // `plan run`: `plan` is registered by control_cmd.cc (called first).
  CLI::App* plan = nullptr;
  try {
    plan = app.get_subcommand("plan");
  } catch (const CLI::OptionNotFound&) {
    plan = app.add_subcommand("plan", "recovery plans");
  }
  auto pf = std::make_shared<RecoveryFlags>();
  auto op = std::make_shared<std::string>();
  auto* run = plan->add_subcommand(
      "run", "run a stored plan as a drill, failover or failback job in the vault");
  pf->AddClient(run, "plan", "plan name (`lifeline plan list`)");
  pf->AddPoint(run);
  run->add_option("--operation", *op, "drill, failover or failback")->required();
  run->callback([pf, op] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, pf->Client());
      json b = {{"operation", *op}};
      if (!pf->Choice().empty()) b["point"] = pf->Choice();
      LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/plans/" + pf->machine + "/run", b));
      PrintResult(r);
      return Status::Ok();
    });
  });
}

}  // namespace lifeline::cli
