// `lifeline net check|rules|routes|simulate|plan`: the network model's commands.
// JSON on stdout with --json, human text otherwise; exit 1 when `net check` finds an error.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "net/check.h"
#include "net/plan.h"
#include "net/report.h"
#include "net/routes.h"
#include "net/simulate.h"
#include "net/topology_parser.h"

namespace lifeline::cli {
namespace {

// `net routes` output is batched in memory up to this size between writes.
constexpr size_t kFlushBytes = 1 << 20;

struct NetOptions {
  std::string file;
  std::string against;
  std::string vnet;
  std::string site;
  std::string fail;
  bool all_single = false;
  bool json = false;
  net::SimulateOptions sim;
  net::PlanOptions plan;
};

Status RunCheck(const NetOptions& o) {
  auto loaded = net::LoadTopology(o.file);
  if (!loaded.ok()) {
    // A file that does not parse is a failed check (exit 1), unless it cannot be read.
    Fail(loaded.status());
    if (loaded.status().code() == Code::kInvalidArgument) SetExitCode(1);
    return Status::Ok();
  }
  net::Topology t = std::move(loaded).value();
  net::TopologyIndex idx(t);
  std::optional<net::Topology> old;
  std::optional<net::TopologyIndex> old_idx;
  if (!o.against.empty()) {
    LL_ASSIGN_OR_RETURN(net::Topology ot, net::LoadTopology(o.against));
    old = std::move(ot);
    old_idx.emplace(*old);
  }
  net::CheckContext ctx{t, idx, old ? &*old : nullptr, old_idx ? &*old_idx : nullptr};
  std::vector<net::Finding> fs = net::RunChecks(ctx);
  if (o.json) {
    std::cout << net::FindingsJson(o.file, fs).dump(2) << "\n";
  } else {
    net::WriteFindingsText(std::cout, o.file, fs);
  }
  for (const auto& f : fs) {
    if (f.severity == net::Severity::kError) {
      SetExitCode(1);
      break;
    }
  }
  return Status::Ok();
}

Status RunRoutes(const NetOptions& o) {
  LL_ASSIGN_OR_RETURN(net::Topology t, net::LoadTopology(o.file));
  net::TopologyIndex idx(t);
  net::FailureSet none;
  net::RouteComputer rc(idx, none);
  const net::Vnet* only_vnet = nullptr;
  const net::Site* only_site = nullptr;
  if (!o.vnet.empty() && !(only_vnet = idx.FindVnet(o.vnet))) {
    return Status::NotFound("no vnet '" + o.vnet + "'");
  }
  if (!o.site.empty() && !(only_site = idx.FindSite(o.site))) {
    return Status::NotFound("no site '" + o.site + "'");
  }
  bool vnets = only_vnet || !only_site;
  bool sites = only_site || !only_vnet;
  // Streamed table by table (text and JSON): a large topology is never held in full. One
  // table object is refilled for every VNet so its entries' storage is reused.
  std::string buf;
  buf.reserve(kFlushBytes + (kFlushBytes >> 2));
  auto flush = [&] {
    std::cout.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.clear();
  };
  if (o.json) buf += "{\"vnets\": [";
  bool first = true;
  net::VnetRouteTable rt;
  if (vnets) {
    for (const auto& v : t.vnets) {
      if (only_vnet && &v != only_vnet) continue;
      for (size_t i = 0; i <= v.subnets.size(); ++i) {
        // The VNet's own table, then each subnet that has a route table.
        const std::string* scope = i == 0 ? nullptr : &v.subnets[i - 1].name;
        if (scope && !idx.RouteTableOf(v.name, *scope)) continue;
        rc.ForVnet(v, scope ? *scope : std::string(), &rt);
        if (o.json) {
          buf += first ? "\n  " : ",\n  ";
          first = false;
          net::AppendVnetRoutesJson(&buf, rt);
        } else {
          net::AppendVnetRoutesText(&buf, rt);
        }
      }
      if (buf.size() > kFlushBytes) flush();
    }
  }
  if (o.json) buf += "],\n\"routers\": [";
  first = true;
  if (sites) {
    for (const auto& s : t.sites) {
      if (only_site && &s != only_site) continue;
      for (const auto& r : s.routers) {
        net::RouterRouteTable rrt = rc.ForRouter(s, r);
        if (o.json) {
          buf += first ? "\n  " : ",\n  ";
          first = false;
          net::AppendRouterRoutesJson(&buf, rrt);
        } else {
          net::AppendRouterRoutesText(&buf, rrt);
        }
        if (buf.size() > kFlushBytes) flush();
      }
    }
  }
  if (o.json) buf += "]}\n";
  flush();
  return Status::Ok();
}

Status RunSimulate(const NetOptions& o) {
  LL_ASSIGN_OR_RETURN(net::Topology t, net::LoadTopology(o.file));
  net::TopologyIndex idx(t);
  if (o.all_single) {
    auto rs = net::SimulateAllSingleFailures(idx, o.sim);
    if (o.json) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& r : rs) a.push_back(net::SimulationJson(r));
      std::cout << nlohmann::json{{"ranking", a}}.dump(2) << "\n";
    } else {
      net::WriteRankingText(std::cout, rs);
    }
    return Status::Ok();
  }
  if (o.fail.empty())
    return Status::InvalidArgument("give --fail ELEMENT[,ELEMENT...] or --all-single-failures");
  std::vector<net::Element> failed;
  std::stringstream ss(o.fail);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    LL_ASSIGN_OR_RETURN(net::Element e, net::ResolveElement(idx, item));
    failed.push_back(e);
  }
  net::SimulationResult r = net::Simulate(idx, failed, o.sim);
  if (o.json)
    std::cout << net::SimulationJson(r).dump(2) << "\n";
  else
    net::WriteSimulationText(std::cout, r);
  return Status::Ok();
}

Status RunPlan(const NetOptions& o) {
  LL_ASSIGN_OR_RETURN(net::Topology t, net::LoadTopology(o.file));
  net::TopologyIndex idx(t);
  LL_ASSIGN_OR_RETURN(net::RecoveryPlan p, net::MakePlan(idx, o.plan));
  if (o.json)
    std::cout << net::PlanJson(p).dump(2) << "\n";
  else
    net::WritePlanText(std::cout, p);
  return Status::Ok();
}

}  // namespace

void RegisterNetCommands(CLI::App& app) {
  auto opts = std::make_shared<NetOptions>();
  CLI::App* net = app.add_subcommand("net", "Network model: check, routes, simulate, plan");
  net->require_subcommand(1);

  CLI::App* check = net->add_subcommand(
      "check", "Check a topology file against every rule (exit 1 on any error)");
  check->add_option("FILE", opts->file, "topology file (YAML)")->required();
  check->add_option("--against", opts->against,
                    "older version of the file: also check what may change");
  check->add_flag("--json", opts->json, "JSON output on stdout");
  check->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunCheck(*opts); });
  });

  CLI::App* rules = net->add_subcommand("rules", "List the rules of net check with their sources");
  rules->add_flag("--json", opts->json, "JSON output on stdout");
  rules->callback([opts] {
    Globals().json = opts->json;
    if (opts->json)
      std::cout << net::RulesJson().dump(2) << "\n";
    else
      net::WriteRulesText(std::cout);
  });

  CLI::App* routes =
      net->add_subcommand("routes", "Effective routes of every VNet/subnet and site router");
  routes->add_option("FILE", opts->file, "topology file (YAML)")->required();
  auto* v = routes->add_option("--vnet", opts->vnet, "only this VNet");
  routes->add_option("--site", opts->site, "only this site's routers")->excludes(v);
  routes->add_flag("--json", opts->json, "JSON output on stdout");
  routes->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunRoutes(*opts); });
  });

  CLI::App* sim = net->add_subcommand(
      "simulate", "What failures do to every flow, with detection and convergence times");
  sim->add_option("FILE", opts->file, "topology file (YAML)")->required();
  auto* f = sim->add_option("--fail", opts->fail,
                            "elements to fail: LINK (circuit/primary), circuit, location, router, "
                            "VNET/GATEWAY, vpn, region");
  sim->add_flag("--all-single-failures", opts->all_single, "run every single failure and rank them")
      ->excludes(f);
  sim->add_option("--convergence-s", opts->sim.gateway_convergence_s,
                  "gateway convergence after detection (default 60)");
  sim->add_option("--vpn-detection-s", opts->sim.vpn_detection_s,
                  "detection time of a dead VPN (default 180)");
  sim->add_flag("--json", opts->json, "JSON output on stdout");
  sim->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunSimulate(*opts); });
  });

  CLI::App* plan = net->add_subcommand(
      "plan", "Recovery networks, conflicts and network steps with their RTO time");
  plan->add_option("FILE", opts->file, "topology file (YAML)")->required();
  plan->add_option("--gateway-minutes", opts->plan.gateway_minutes,
                   "time to create a gateway (default 45, assumed)");
  plan->add_option("--connection-minutes", opts->plan.connection_minutes,
                   "time to create a connection (default 5, assumed)");
  plan->add_flag("--json", opts->json, "JSON output on stdout");
  plan->callback([opts] {
    Globals().json = opts->json;
    RunCommand([opts] { return RunPlan(*opts); });
  });
}

}  // namespace lifeline::cli
