// Executes the lab plan with iproute2, tc, nft and BIRD, and keeps the state file that makes
// `down` exact. Every object is recorded in the state before it is created, so a failed `up`
// can always be undone.
#include "lab/lab.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "lab/bird_config.h"
#include "lab/birdc_parser.h"
#include "lab/exec.h"
#include "net/index.h"
#include "net/routes.h"
#include "net/topology_parser.h"

namespace lifeline::lab {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string StatePath(const LabOptions& o) { return o.state_dir + "/" + o.name + ".json"; }
std::string RunDir(const LabOptions& o) { return o.state_dir + "/" + o.name; }

Status SaveState(const LabOptions& o, const json& st) {
  std::error_code ec;
  fs::create_directories(o.state_dir, ec);
  std::string tmp = StatePath(o) + ".tmp";
  {
    std::ofstream f(tmp);
    f << st.dump(2);
    if (!f) return Status::IOError("cannot write " + tmp);
  }
  fs::rename(tmp, StatePath(o), ec);
  if (ec) return Status::IOError("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

Result<std::set<std::string>> ListNamespaces() {
  LL_ASSIGN_OR_RETURN(ExecResult r, Exec({"ip", "netns", "list"}));
  std::set<std::string> out;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    std::string name = line.substr(0, line.find(' '));
    if (!name.empty()) out.insert(name);
  }
  return out;
}

Status InNs(const std::string& ns, std::vector<std::string> argv) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return ExecOk(full);
}

bool PidIsOurBird(int pid, const std::string& conf) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return cmd.find("bird") != std::string::npos && cmd.find(conf) != std::string::npos;
}

Result<LabPlan> PlanFromState(const json& st) {
  LL_ASSIGN_OR_RETURN(net::Topology t,
                      net::LoadTopology(st.at("topology_copy").get<std::string>()));
  return BuildLabPlan(t, st.at("lab").get<std::string>());
}

std::string CtlPath(const LabOptions& o, const std::string& ns) {
  return RunDir(o) + "/" + ns + ".ctl";
}

Result<std::string> Birdc(const std::string& ctl, const std::string& cmd) {
  // Bounded: a frozen router (lab fail ROUTER) never answers its control socket.
  std::vector<std::string> argv = {"timeout", "3", "birdc", "-v", "-s", ctl};
  std::istringstream in(cmd);
  std::string w;
  while (in >> w) argv.push_back(w);
  LL_ASSIGN_OR_RETURN(ExecResult r, Exec(argv));
  if (r.exit_code != 0) return Status::IOError("birdc " + cmd + ": " + r.output);
  return r.output;
}

Status DoUp(const std::string& file, const net::Topology& t, const LabPlan& plan,
            const LabOptions& o, json& st) {
  std::error_code ec;
  fs::create_directories(RunDir(o), ec);
  if (ec) return Status::IOError("cannot create " + RunDir(o) + ": " + ec.message());
  std::string copy = RunDir(o) + "/topology.yaml";
  fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("cannot copy " + file + ": " + ec.message());
  st["topology_copy"] = copy;
  LL_RETURN_IF_ERROR(SaveState(o, st));
  (void)t;

  for (const auto& n : plan.namespaces) {
    st["namespaces"].push_back(n.name);
    LL_RETURN_IF_ERROR(SaveState(o, st));
    LL_RETURN_IF_ERROR(ExecOk({"ip", "netns", "add", n.name}));
    LL_RETURN_IF_ERROR(InNs(n.name, {"ip", "link", "set", "lo", "up"}));
    LL_RETURN_IF_ERROR(
        InNs(n.name, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                      "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"}));
  }
  for (const auto& l : plan.links) {
    LL_RETURN_IF_ERROR(ExecOk({"ip", "link", "add", l.if_a, "netns", l.ns_a, "type", "veth", "peer",
                               "name", l.if_b, "netns", l.ns_b}));
    for (int side = 0; side < 2; ++side) {
      const std::string& ns = side ? l.ns_b : l.ns_a;
      const std::string& ifn = side ? l.if_b : l.if_a;
      const std::string& addr = side ? l.addr_b : l.addr_a;
      LL_RETURN_IF_ERROR(InNs(ns, {"ip", "addr", "add", addr, "dev", ifn}));
      LL_RETURN_IF_ERROR(InNs(ns, {"ip", "link", "set", ifn, "up"}));
      if (l.rate_mbps > 0) {
        LL_RETURN_IF_ERROR(
            InNs(ns, {"tc", "qdisc", "add", "dev", ifn, "root", "tbf", "rate",
                      std::to_string(l.rate_mbps) + "mbit", "burst", "256kb", "latency", "50ms"}));
      }
    }
  }
  for (const auto& n : plan.namespaces) {
    if (n.host_address.empty()) continue;
    LL_RETURN_IF_ERROR(InNs(n.name, {"ip", "addr", "add", n.host_address + "/32", "dev", "lo"}));
    if (!n.default_via.empty()) {
      LL_RETURN_IF_ERROR(InNs(
          n.name, {"ip", "route", "add", "default", "via", n.default_via, "src", n.host_address}));
    }
  }
  for (const auto& r : plan.routers) {
    std::string conf = RunDir(o) + "/" + r.ns + ".conf";
    std::string pidf = RunDir(o) + "/" + r.ns + ".pid";
    {
      std::ofstream f(conf);
      f << RenderBirdConfig(r, BirdPaths{RunDir(o) + "/" + r.ns + ".log"});
      if (!f) return Status::IOError("cannot write " + conf);
    }
    LL_RETURN_IF_ERROR(ExecOk({"bird", "-p", "-c", conf}));
    json rec = {{"ns", r.ns}, {"conf", conf}, {"ctl", CtlPath(o, r.ns)}, {"pid", 0}};
    LL_RETURN_IF_ERROR(InNs(r.ns, {"bird", "-c", conf, "-s", CtlPath(o, r.ns), "-P", pidf}));
    // bird writes its pid file after it forks into the background: wait for it briefly.
    int pid = 0;
    for (int tries = 0; tries < 100 && pid <= 0; ++tries) {
      std::ifstream pf(pidf);
      if (!(pf >> pid)) pid = 0;
      if (pid <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid <= 0) return Status::IOError("bird in " + r.ns + " wrote no pid file");
    rec["pid"] = pid;
    st["routers"].push_back(rec);
    LL_RETURN_IF_ERROR(SaveState(o, st));
  }
  return Status::Ok();
}

// The links and router namespaces an element covers.
struct Target {
  std::vector<const Link*> links;
  std::vector<std::string> router_ns;
};

Result<Target> ResolveTarget(const net::Topology& t, const LabPlan& plan,
                             const std::string& element) {
  Target tg;
  std::set<std::string> circuits;
  for (const auto& c : t.circuits) {
    if (c.name == element || c.peering_location == element) circuits.insert(c.name);
  }
  for (const auto& l : plan.links) {
    if (l.element == element || (!l.circuit.empty() && circuits.count(l.circuit)))
      tg.links.push_back(&l);
  }
  for (const auto& r : plan.routers) {
    if (tg.links.empty() && r.element == element) tg.router_ns.push_back(r.ns);
  }
  if (tg.links.empty() && tg.router_ns.empty())
    return Status::NotFound("lab: no element '" + element +
                            "' (circuit link like er-hk/primary, circuit, peering location, "
                            "router, VPN connection)");
  return tg;
}

std::string NftTable(size_t link_index) { return "llfail_" + std::to_string(link_index); }

std::string DropRules(const std::string& table, const std::string& ifname) {
  std::string m = ifname.empty() ? "" : "iifname \"" + ifname + "\" ";
  std::string mo = ifname.empty() ? "" : "oifname \"" + ifname + "\" ";
  return "table inet " + table + " {\n" + "  chain c_in { type filter hook input priority -300; " +
         m + "drop; }\n" + "  chain c_out { type filter hook output priority -300; " + mo +
         "drop; }\n" + "  chain c_fwd { type filter hook forward priority -300; " + m + "drop; " +
         (ifname.empty() ? "" : mo + "drop; ") + "}\n}\n";
}

}  // namespace

Status CheckPrerequisites() {
  if (geteuid() != 0)
    return Status::FailedPrecondition(
        "lifeline lab needs root (network namespaces, veth, tc, BIRD): run it as root");
  for (const char* tool : {"ip", "tc", "nft", "bird", "birdc", "sysctl"}) {
    if (!HaveTool(tool))
      return Status::FailedPrecondition(std::string("lifeline lab needs '") + tool +
                                        "' (Debian packages iproute2, nftables, bird2, procps)");
  }
  return Status::Ok();
}

Result<json> LoadLabState(const LabOptions& o) {
  std::ifstream f(StatePath(o));
  if (!f) return Status::NotFound("no lab '" + o.name + "' (no " + StatePath(o) + ")");
  json st = json::parse(f, nullptr, false);
  if (st.is_discarded()) return Status::Corruption("cannot parse " + StatePath(o));
  return st;
}

Status LabUp(const std::string& file, const LabOptions& o) {
  LL_RETURN_IF_ERROR(CheckPrerequisites());
  LL_RETURN_IF_ERROR(ValidateLabName(o.name));
  LL_ASSIGN_OR_RETURN(net::Topology t, net::LoadTopology(file));
  LL_ASSIGN_OR_RETURN(LabPlan plan, BuildLabPlan(t, o.name));
  if (fs::exists(StatePath(o)))
    return Status::FailedPrecondition("lab '" + o.name + "' is already up (" + StatePath(o) +
                                      "); run `lifeline lab down --name " + o.name + "` first");
  LL_ASSIGN_OR_RETURN(auto existing, ListNamespaces());
  std::string prefix = LabPrefix(o.name);
  for (const auto& n : existing) {
    if (n.rfind(prefix, 0) == 0)
      return Status::FailedPrecondition("namespace '" + n + "' exists and was not made by lab '" +
                                        o.name + "': refusing to touch it");
  }
  json st = {{"lab", o.name},
             {"topology", fs::absolute(file).string()},
             {"namespaces", json::array()},
             {"routers", json::array()},
             {"failures", json::array()}};
  Status s = DoUp(file, t, plan, o, st);
  if (!s.ok()) {
    Status d = LabDown(o);
    return Status(s.code(), s.message() + (d.ok() ? " (partial lab removed)"
                                                  : " (cleanup failed: " + d.message() + ")"));
  }
  return Status::Ok();
}

Status LabDown(const LabOptions& o) {
  LL_RETURN_IF_ERROR(CheckPrerequisites());
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  std::string first_error;
  for (const auto& r : st.value("routers", json::array())) {
    int pid = r.value("pid", 0);
    if (pid > 0 && PidIsOurBird(pid, r.value("conf", ""))) {
      kill(pid, SIGCONT);
      kill(pid, SIGKILL);
    }
  }
  LL_ASSIGN_OR_RETURN(auto existing, ListNamespaces());
  for (const auto& n : st.value("namespaces", json::array())) {
    std::string ns = n.get<std::string>();
    if (!existing.count(ns)) continue;
    // Anything still running inside the lab's namespaces (probes, test services) goes too.
    auto pids = Exec({"ip", "netns", "pids", ns});
    if (pids.ok()) {
      std::istringstream in(pids.value().output);
      int pid;
      while (in >> pid) {
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
      }
    }
    Status s = ExecOk({"ip", "netns", "del", ns});
    if (!s.ok() && first_error.empty()) first_error = s.message();
  }
  if (!first_error.empty()) return Status::IOError(first_error);
  std::error_code ec;
  fs::remove_all(RunDir(o), ec);
  fs::remove(StatePath(o), ec);
  return Status::Ok();
}

Result<std::pair<std::string, std::string>> LabEndpoint(const LabOptions& o,
                                                        const std::string& element) {
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  LL_ASSIGN_OR_RETURN(LabPlan plan, PlanFromState(st));
  for (const auto& n : plan.namespaces) {
    if (n.element == element && !n.host_address.empty() &&
        (n.role == NsRole::kSiteHost || n.role == NsRole::kVnet))
      return std::make_pair(n.name, n.host_address);
  }
  return Status::NotFound("lab: no site or vnet '" + element + "'");
}

Status LabFail(const LabOptions& o, const std::string& element, FailMode mode) {
  LL_RETURN_IF_ERROR(CheckPrerequisites());
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  LL_ASSIGN_OR_RETURN(net::Topology t,
                      net::LoadTopology(st.at("topology_copy").get<std::string>()));
  LL_ASSIGN_OR_RETURN(LabPlan plan, BuildLabPlan(t, o.name));
  LL_ASSIGN_OR_RETURN(Target tg, ResolveTarget(t, plan, element));
  json rec = {{"element", element},
              {"mode", mode == FailMode::kDown ? "down" : "silent"},
              {"links", json::array()},
              {"routers", json::array()}};
  // Every step is recorded before it runs, so `heal` can undo a half-applied failure; after
  // the first error no further step runs.
  Status result = Status::Ok();
  auto step = [&result](const std::function<Status()>& fn) {
    if (result.ok()) result = fn();
  };
  for (const Link* l : tg.links) {
    size_t i = l - plan.links.data();
    rec["links"].push_back(i);
    if (mode == FailMode::kDown) {
      step([&] { return InNs(l->ns_a, {"ip", "link", "set", l->if_a, "down"}); });
      step([&] { return InNs(l->ns_b, {"ip", "link", "set", l->if_b, "down"}); });
    } else {
      step([&] {
        return ExecOk({"ip", "netns", "exec", l->ns_a, "nft", "-f", "-"},
                      DropRules(NftTable(i), l->if_a));
      });
      step([&] {
        return ExecOk({"ip", "netns", "exec", l->ns_b, "nft", "-f", "-"},
                      DropRules(NftTable(i), l->if_b));
      });
    }
  }
  for (const auto& ns : tg.router_ns) {
    rec["routers"].push_back(ns);
    // A dead router: its BIRD frozen and nothing forwarded, so peers notice only by BFD or
    // the hold timer.
    step([&] {
      return ExecOk({"ip", "netns", "exec", ns, "nft", "-f", "-"}, DropRules("llfail_router", ""));
    });
    for (const auto& r : st["routers"])
      if (r["ns"] == ns && PidIsOurBird(r["pid"], r["conf"])) kill(r["pid"].get<int>(), SIGSTOP);
  }
  st["failures"].push_back(rec);
  LL_RETURN_IF_ERROR(SaveState(o, st));
  return result;
}

Status LabHeal(const LabOptions& o, const std::string& element) {
  LL_RETURN_IF_ERROR(CheckPrerequisites());
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  LL_ASSIGN_OR_RETURN(LabPlan plan, PlanFromState(st));
  json keep = json::array();
  bool found = false;
  for (const auto& f : st["failures"]) {
    if (!element.empty() && f["element"] != element) {
      keep.push_back(f);
      continue;
    }
    found = true;
    for (const auto& li : f["links"]) {
      size_t i = li.get<size_t>();
      if (i >= plan.links.size()) continue;
      const Link& l = plan.links[i];
      if (f["mode"] == "down") {
        LL_RETURN_IF_ERROR(InNs(l.ns_a, {"ip", "link", "set", l.if_a, "up"}));
        LL_RETURN_IF_ERROR(InNs(l.ns_b, {"ip", "link", "set", l.if_b, "up"}));
      } else {
        (void)Exec({"ip", "netns", "exec", l.ns_a, "nft", "delete", "table", "inet", NftTable(i)});
        (void)Exec({"ip", "netns", "exec", l.ns_b, "nft", "delete", "table", "inet", NftTable(i)});
      }
    }
    for (const auto& ns : f["routers"]) {
      (void)Exec({"ip", "netns", "exec", ns.get<std::string>(), "nft", "delete", "table", "inet",
                  "llfail_router"});
      for (const auto& r : st["routers"])
        if (r["ns"] == ns && PidIsOurBird(r["pid"], r["conf"])) kill(r["pid"].get<int>(), SIGCONT);
    }
  }
  if (!found && !element.empty()) return Status::NotFound("lab: '" + element + "' is not failed");
  st["failures"] = keep;
  return SaveState(o, st);
}

Result<json> LabStatus(const LabOptions& o) {
  LL_RETURN_IF_ERROR(CheckPrerequisites());
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  LL_ASSIGN_OR_RETURN(net::Topology t,
                      net::LoadTopology(st.at("topology_copy").get<std::string>()));
  LL_ASSIGN_OR_RETURN(LabPlan plan, BuildLabPlan(t, o.name));
  json out = {{"lab", o.name},
              {"topology", st["topology"]},
              {"failures", st["failures"]},
              {"routers", json::array()},
              {"differences", json::array()}};
  int sessions = 0, established = 0;
  // Expected routes: `net routes` for the same topology with the lab's failed elements.
  net::TopologyIndex idx(t);
  std::vector<net::Element> failed;
  for (const auto& f : st["failures"]) {
    auto e = net::ResolveElement(idx, f["element"].get<std::string>());
    if (e.ok()) failed.push_back(e.value());
  }
  net::FailureSet fset(failed);
  net::RouteComputer rc(idx, fset);
  for (const auto& r : plan.routers) {
    json jr = {{"ns", r.ns}, {"element", r.element}, {"asn", r.asn}};
    std::string ctl = CtlPath(o, r.ns);
    auto protos = Birdc(ctl, "show protocols");
    if (!protos.ok()) {
      jr["error"] = protos.status().message();
      out["differences"].push_back(r.element + ": router not answering (" +
                                   protos.status().message() + ")");
      out["routers"].push_back(jr);
      continue;
    }
    json sess = json::array();
    for (const auto& p : ParseProtocols(protos.value())) {
      if (p.proto != "BGP") continue;
      ++sessions;
      if (p.info.find("Established") != std::string::npos) ++established;
      sess.push_back({{"name", p.name}, {"state", p.state}, {"info", p.info}});
    }
    jr["sessions"] = sess;
    auto bfd = Birdc(ctl, "show bfd sessions");
    json jb = json::array();
    if (bfd.ok())
      for (const auto& b : ParseBfdSessions(bfd.value()))
        jb.push_back({{"address", b.address},
                      {"interface", b.interface},
                      {"state", b.state},
                      {"interval_s", b.interval_s},
                      {"timeout_s", b.timeout_s}});
    jr["bfd"] = jb;
    auto routes = Birdc(ctl, "show route");
    std::vector<BirdRoute> rs;
    if (routes.ok()) rs = ParseRoutes(routes.value());
    json jroutes = json::array();
    for (const auto& rt : rs)
      jroutes.push_back({{"prefix", rt.prefix},
                         {"protocol", rt.protocol},
                         {"best", rt.best},
                         {"via", rt.via},
                         {"preference", rt.preference}});
    jr["routes"] = jroutes;
    // Compare a site router's best routes with the model's.
    const net::Router* mr = idx.FindRouter(r.element);
    const net::Site* ms = idx.SiteOfRouter(r.element);
    if (mr && ms) {
      net::RouterRouteTable table = rc.ForRouter(*ms, *mr);
      std::set<std::string> expected_prefixes;
      for (const auto& e : table.entries) {
        if (!e.active) continue;
        std::string prefix = e.prefix.ToString();
        expected_prefixes.insert(prefix);
        const BirdRoute* best = nullptr;
        for (const auto& rt : rs)
          if (rt.prefix == prefix && rt.best) best = &rt;
        std::string want = e.next_hops.empty() ? "" : e.next_hops[0];
        if (!best) {
          out["differences"].push_back(r.element + ": " + prefix + " expected via " + want +
                                       ", missing on the router");
          continue;
        }
        // Which circuit or VPN the router's best route uses, from the protocol name.
        std::string got;
        for (const auto& n : r.neighbors)
          if (n.protocol == best->protocol) got = n.circuit.empty() ? n.vpn : n.circuit;
        bool ok = false;
        for (const auto& nh : e.next_hops) ok |= nh == got;
        if (!ok)
          out["differences"].push_back(r.element + ": " + prefix + " expected via " + want +
                                       ", router uses " + (got.empty() ? best->protocol : got));
      }
      for (const auto& rt : rs) {
        if (rt.best && rt.source_bgp && !expected_prefixes.count(rt.prefix))
          out["differences"].push_back(r.element + ": " + rt.prefix + " on the router (" +
                                       rt.protocol + ") but not in net routes");
      }
    }
    out["routers"].push_back(jr);
  }
  out["sessions"] = sessions;
  out["established"] = established;
  return out;
}

Status LabWaitEstablished(const LabOptions& o, double timeout_s) {
  auto start = std::chrono::steady_clock::now();
  LL_ASSIGN_OR_RETURN(json st, LoadLabState(o));
  for (;;) {
    int total = 0, up = 0;
    for (const auto& r : st["routers"]) {
      auto protos = Birdc(r["ctl"].get<std::string>(), "show protocols");
      if (!protos.ok()) continue;
      for (const auto& p : ParseProtocols(protos.value())) {
        if (p.proto != "BGP") continue;
        ++total;
        if (p.info.find("Established") != std::string::npos) ++up;
      }
    }
    if (total > 0 && up == total) return Status::Ok();
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (el > timeout_s)
      return Status::Busy(std::to_string(up) + " of " + std::to_string(total) +
                          " BGP sessions established after " + std::to_string(int(el)) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace lifeline::lab
