// `lifeline lab up|down|status|fail|heal|probe`: the topology on this host with real routers
// (NETWORK_MODEL.md §5, docs/lab.md). JSON on stdout with --json, text on stderr/stdout.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "lab/lab.h"
#include "lab/probe.h"

namespace lifeline::cli {
namespace {

struct LabCliOptions {
  lab::LabOptions lab;
  std::string file;
  std::string element;
  std::string mode = "silent";
  std::string from;
  std::string to;
  double duration_s = 10;
  double after_s = 2;
  double wait_s = 60;
  bool no_wait = false;
  bool json = false;
};

void Print(const LabCliOptions& o, const nlohmann::json& j, const std::string& text) {
  if (o.json || Globals().json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << text;
  }
}

Status RunUp(const LabCliOptions& o) {
  LL_RETURN_IF_ERROR(lab::LabUp(o.file, o.lab));
  std::cerr << "lab '" << o.lab.name << "' created; waiting for BGP sessions\n";
  Status w = o.no_wait ? Status::Ok() : lab::LabWaitEstablished(o.lab, o.wait_s);
  Print(o, {{"lab", o.lab.name}, {"up", true}, {"established", w.ok()}},
        w.ok() ? "lab '" + o.lab.name + "' is up, all BGP sessions established\n"
               : "lab '" + o.lab.name + "' is up; " + w.message() + "\n");
  if (!w.ok()) SetExitCode(1);
  return Status::Ok();
}

Status RunStatus(const LabCliOptions& o) {
  LL_ASSIGN_OR_RETURN(nlohmann::json st, lab::LabStatus(o.lab));
  std::string text;
  for (const auto& r : st["routers"]) {
    text += r["element"].get<std::string>() + " (AS " + std::to_string(r["asn"].get<int>()) + ", " +
            r["ns"].get<std::string>() + ")\n";
    for (const auto& s : r.value("sessions", nlohmann::json::array()))
      text += "  bgp " + s["name"].get<std::string>() + ": " + s["state"].get<std::string>() + " " +
              s["info"].get<std::string>() + "\n";
    for (const auto& b : r.value("bfd", nlohmann::json::array()))
      text +=
          "  bfd " + b["address"].get<std::string>() + ": " + b["state"].get<std::string>() + "\n";
    for (const auto& rt : r.value("routes", nlohmann::json::array()))
      if (rt["best"].get<bool>())
        text += "  route " + rt["prefix"].get<std::string>() + " via " +
                rt["via"].get<std::string>() + " [" + rt["protocol"].get<std::string>() + "]\n";
  }
  text += std::to_string(st["established"].get<int>()) + " of " +
          std::to_string(st["sessions"].get<int>()) + " BGP sessions established\n";
  if (st["differences"].empty()) {
    text += "routes match `net routes`\n";
  } else {
    text += "differences from `net routes`:\n";
    for (const auto& d : st["differences"]) text += "  " + d.get<std::string>() + "\n";
    SetExitCode(1);
  }
  Print(o, st, text);
  return Status::Ok();
}

Status RunProbeCmd(const LabCliOptions& o) {
  LL_RETURN_IF_ERROR(lab::CheckPrerequisites());
  LL_ASSIGN_OR_RETURN(auto from, lab::LabEndpoint(o.lab, o.from));
  LL_ASSIGN_OR_RETURN(auto to, lab::LabEndpoint(o.lab, o.to));
  lab::ProbeOptions po;
  po.from_ns = from.first;
  po.to_ns = to.first;
  po.to_address = to.second;
  po.duration_s = o.duration_s;
  po.action_after_s = o.after_s;
  Status action_status;
  if (!o.element.empty()) {
    lab::FailMode mode = o.mode == "down" ? lab::FailMode::kDown : lab::FailMode::kSilent;
    po.action = [&] { action_status = lab::LabFail(o.lab, o.element, mode); };
  }
  std::cerr << "probing " << o.from << " (" << from.second << ") -> " << o.to << " (" << to.second
            << ") for " << o.duration_s << " s\n";
  LL_ASSIGN_OR_RETURN(lab::ProbeResult r, lab::RunProbe(po));
  LL_RETURN_IF_ERROR(action_status);
  nlohmann::json j = {{"from", o.from},
                      {"to", o.to},
                      {"sent", r.sent},
                      {"received", r.received},
                      {"lost", r.lost},
                      {"outage_s", r.longest_outage_s},
                      {"outage_start_s", r.outage_start_s}};
  if (!o.element.empty()) {
    j["failed"] = o.element;
    j["mode"] = o.mode;
    j["failed_at_s"] = r.action_at_s;
  }
  char buf[256];
  snprintf(buf, sizeof buf, "sent %lld, answered %lld; longest outage %.3f s (from t=%.3f s)\n",
           static_cast<long long>(r.sent), static_cast<long long>(r.received), r.longest_outage_s,
           r.outage_start_s);
  Print(o, j, buf);
  return Status::Ok();
}

void AddCommon(CLI::App* c, const std::shared_ptr<LabCliOptions>& opts) {
  c->add_option("--name", opts->lab.name, "lab name (1-8 lower-case letters/digits)")
      ->capture_default_str();
  c->add_option("--state-dir", opts->lab.state_dir, "where lab state is kept")
      ->capture_default_str();
  c->add_flag("--json", opts->json, "JSON output on stdout");
}

}  // namespace

void RegisterLabCommands(CLI::App& app) {
  auto opts = std::make_shared<LabCliOptions>();
  CLI::App* lab = app.add_subcommand("lab", "Network lab: the topology on this host with BIRD");
  lab->require_subcommand(1);

  CLI::App* up = lab->add_subcommand("up", "Create namespaces, links and routers for FILE");
  up->add_option("FILE", opts->file, "topology file (YAML)")->required();
  up->add_option("--wait-s", opts->wait_s, "wait this long for BGP sessions")
      ->capture_default_str();
  up->add_flag("--no-wait", opts->no_wait, "do not wait for BGP sessions");
  AddCommon(up, opts);
  up->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunUp(*opts); });
  });

  CLI::App* down = lab->add_subcommand("down", "Remove everything the lab made");
  AddCommon(down, opts);
  down->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] {
      LL_RETURN_IF_ERROR(lab::LabDown(opts->lab));
      Print(*opts, {{"lab", opts->lab.name}, {"down", true}},
            "lab '" + opts->lab.name + "' removed\n");
      return Status::Ok();
    });
  });

  CLI::App* status =
      lab->add_subcommand("status", "Sessions, BFD, routes; compared with net routes");
  AddCommon(status, opts);
  status->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunStatus(*opts); });
  });

  CLI::App* fail =
      lab->add_subcommand("fail", "Fail an element: link, circuit, location, router, VPN");
  fail->add_option("ELEMENT", opts->element, "er-hk/primary, er-hk, hongkong, hq-edge-1, ...")
      ->required();
  fail->add_option("--mode", opts->mode, "silent (drop, only BFD/hold timer notice) | down")
      ->check(CLI::IsMember({"silent", "down"}))
      ->capture_default_str();
  AddCommon(fail, opts);
  fail->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] {
      lab::FailMode m = opts->mode == "down" ? lab::FailMode::kDown : lab::FailMode::kSilent;
      LL_RETURN_IF_ERROR(lab::LabFail(opts->lab, opts->element, m));
      Print(*opts, {{"failed", opts->element}, {"mode", opts->mode}},
            "failed " + opts->element + " (" + opts->mode + ")\n");
      return Status::Ok();
    });
  });

  CLI::App* heal = lab->add_subcommand("heal", "Undo a failure (no ELEMENT: all)");
  heal->add_option("ELEMENT", opts->element, "the failed element");
  AddCommon(heal, opts);
  heal->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] {
      LL_RETURN_IF_ERROR(lab::LabHeal(opts->lab, opts->element));
      Print(*opts, {{"healed", opts->element.empty() ? "all" : opts->element}},
            "healed " + (opts->element.empty() ? std::string("all") : opts->element) + "\n");
      return Status::Ok();
    });
  });

  CLI::App* probe = lab->add_subcommand("probe", "Measure how long a flow is black-holed");
  probe->add_option("--from", opts->from, "site (its host namespace)")->required();
  probe->add_option("--to", opts->to, "VNet")->required();
  probe->add_option("--duration-s", opts->duration_s, "stream length")->capture_default_str();
  probe->add_option("--fail", opts->element, "fail this element during the stream");
  probe->add_option("--after-s", opts->after_s, "when to fail it")->capture_default_str();
  probe->add_option("--mode", opts->mode, "silent | down")
      ->check(CLI::IsMember({"silent", "down"}))
      ->capture_default_str();
  AddCommon(probe, opts);
  probe->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunProbeCmd(*opts); });
  });
}

}  // namespace lifeline::cli
