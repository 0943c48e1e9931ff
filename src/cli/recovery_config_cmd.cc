// `lifeline machine config|set|nic` and `lifeline netmap add|list|remove|static|preview`:
// how a machine comes back (launcher, size, NICs) and which address each NIC gets in the
// recovery and drill networks, over the vault's REST API (vault/recovery_config.h). Runs on
// the CLI thread only.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/client_flags.h"
#include "cli/commands.h"

namespace lifeline::cli {
namespace {

using nlohmann::json;

void PrintConfig(const json& c) {
  std::cout << c.value("machine", "") << ": launcher " << c.value("launcher", "") << ", "
            << c.value("cpus", 0) << " cpus, " << c.value("memory_mib", 0) << " MiB\n";
  std::cout << "  launcher config " << c.value("launcher_config", json::object()).dump() << "\n";
  const json nics = c.value("nics", json::array());
  if (nics.empty()) std::cout << "  no NICs\n";
  for (const auto& n : nics) {
    std::cout << "  NIC " << n.value("index", 0) << "  network " << n.value("network", "") << "  "
              << (n.value("ip", "").empty() ? "DHCP" : n.value("ip", ""));
    if (!n.value("mac", "").empty()) std::cout << "  mac " << n.value("mac", "");
    std::cout << "\n";
  }
}

std::string TargetText(const json& t) {
  std::string out = t.value("network", "") + " " + t.value("subnet", "");
  if (!t.value("gateway", "").empty()) out += " gw " + t.value("gateway", "");
  const json reserved = t.value("reserved", json::array());
  if (!reserved.empty()) {
    out += " reserved";
    for (const auto& r : reserved) out += " " + r.get<std::string>();
  }
  return out;
}

void PrintMapping(const json& m) {
  std::cout << m.value("source", "") << "\n  recovery  " << TargetText(m["recovery"])
            << "\n  drill     " << TargetText(m["drill"]) << "\n";
}

void PrintRule(const json& r) {
  std::cout << r.value("machine", "") << "  NIC " << r.value("nic", 0) << "  "
            << r.value("mode", "") << "  " << r.value("ip", "") << "\n";
}

void Output(const json& j, void (*human)(const json&)) {
  if (Globals().json) {
    std::cout << j.dump(2) << "\n";
  } else {
    human(j);
  }
}

// "NAME=CIDR" of --recovery and --drill.
Result<json> ParseTargetFlag(const std::string& flag, const std::string& text,
                             const std::string& gateway, const std::vector<std::string>& reserved) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return Status::InvalidArgument(flag + " takes NETWORK=SUBNET, like " + flag +
                                   " dr-app=10.50.1.0/24, not '" + text + "'");
  json t = {{"network", text.substr(0, eq)}, {"subnet", text.substr(eq + 1)}};
  if (!gateway.empty()) t["gateway"] = gateway;
  if (!reserved.empty()) t["reserved"] = reserved;
  return t;
}

// A JSON object given inline or as @FILE.
Result<json> ParseJsonArg(const std::string& what, const std::string& text) {
  std::string raw = text;
  if (!text.empty() && text[0] == '@') {
    std::ifstream in(text.substr(1));
    if (!in) return Status::NotFound(what + ": cannot read " + text.substr(1));
    std::stringstream ss;
    ss << in.rdbuf();
    raw = ss.str();
  }
  json j = json::parse(raw, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::InvalidArgument(what + " must be a JSON object (inline or @FILE)");
  return j;
}

void RegisterMachineConfig(CLI::App& app) {
  CLI::App* machine = nullptr;
  try {
    machine = app.get_subcommand("machine");
  } catch (const CLI::OptionNotFound&) {
    machine = app.add_subcommand("machine", "protected machines");
  }

  struct ShowArgs {
    ClientFlags flags;
    std::string name;
  };
  auto sa = std::make_shared<ShowArgs>();
  auto* show = machine->add_subcommand("config", "how the machine is started when it is recovered");
  show->add_option("name", sa->name, "machine name")->required();
  sa->flags.Add(show);
  show->callback([sa] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, sa->flags.Client());
      LL_ASSIGN_OR_RETURN(json c, client.Get("/v1/machines/" + sa->name + "/config"));
      Output(c, PrintConfig);
      return Status::Ok();
    });
  });

  struct SetArgs {
    ClientFlags flags;
    std::string name, launcher, launcher_config;
    int cpus = 0, memory_mib = 0;
  };
  auto st = std::make_shared<SetArgs>();
  auto* set = machine->add_subcommand(
      "set", "change how the machine is started when it is recovered (drill, failover)");
  set->add_option("name", st->name, "machine name")->required();
  set->add_option("--launcher", st->launcher, "qemu (built in) or command");
  set->add_option("--launcher-config", st->launcher_config,
                  "the launcher's settings as a JSON object, inline or @FILE (docs/recovery.md)");
  set->add_option("--cpus", st->cpus, "virtual CPUs (1..256)");
  set->add_option("--memory-mib", st->memory_mib, "memory in MiB (16..16777216)");
  st->flags.Add(set);
  set->callback([st] {
    RunCommand([&]() -> Status {
      json body = json::object();
      if (!st->launcher.empty()) body["launcher"] = st->launcher;
      if (!st->launcher_config.empty()) {
        LL_ASSIGN_OR_RETURN(body["launcher_config"],
                            ParseJsonArg("--launcher-config", st->launcher_config));
      }
      if (st->cpus != 0) body["cpus"] = st->cpus;
      if (st->memory_mib != 0) body["memory_mib"] = st->memory_mib;
      if (body.empty())
        return Status::InvalidArgument(
            "nothing to change: give --launcher, --launcher-config, --cpus or --memory-mib");
      LL_ASSIGN_OR_RETURN(auto client, st->flags.Client());
      LL_ASSIGN_OR_RETURN(json c, client.Post("/v1/machines/" + st->name + "/config", body));
      Output(c, PrintConfig);
      return Status::Ok();
    });
  });

  auto* nic = machine->add_subcommand("nic", "the machine's network interfaces");
  nic->require_subcommand(1);
  struct NicArgs {
    ClientFlags flags;
    std::string name, network, ip, mac;
    int index = -1;
  };
  auto na = std::make_shared<NicArgs>();
  auto* nadd = nic->add_subcommand("set", "add or replace a NIC: its source network and address");
  nadd->add_option("name", na->name, "machine name")->required();
  nadd->add_option("--index", na->index, "NIC index (0..15)")->required();
  nadd->add_option("--network", na->network, "the source network it is on")->required();
  nadd->add_option("--ip", na->ip, "its address at the source (none: DHCP)");
  nadd->add_option("--mac", na->mac, "its MAC address (52:54:00:12:34:56)");
  na->flags.Add(nadd);
  nadd->callback([na] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, na->flags.Client());
      json body = {{"index", na->index}, {"network", na->network}, {"ip", na->ip}, {"mac", na->mac}};
      LL_ASSIGN_OR_RETURN(json c, client.Post("/v1/machines/" + na->name + "/nics", body));
      Output(c, PrintConfig);
      return Status::Ok();
    });
  });
  auto nr = std::make_shared<NicArgs>();
  auto* nrm = nic->add_subcommand("remove", "remove a NIC");
  nrm->add_option("name", nr->name, "machine name")->required();
  nrm->add_option("--index", nr->index, "NIC index (0..15)")->required()->check(CLI::Range(0, 15));
  nr->flags.Add(nrm);
  nrm->callback([nr] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, nr->flags.Client());
      LL_ASSIGN_OR_RETURN(json c, client.Delete("/v1/machines/" + nr->name + "/nics/" +
                                                std::to_string(nr->index)));
      Output(c, PrintConfig);
      return Status::Ok();
    });
  });
  auto nl = std::make_shared<NicArgs>();
  auto* nlist = nic->add_subcommand("list", "the machine's NICs");
  nlist->add_option("name", nl->name, "machine name")->required();
  nl->flags.Add(nlist);
  nlist->callback([nl] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, nl->flags.Client());
      LL_ASSIGN_OR_RETURN(json c, client.Get("/v1/machines/" + nl->name + "/config"));
      Output(Globals().json ? c["nics"] : c, PrintConfig);
      return Status::Ok();
    });
  });
}

void RegisterNetmap(CLI::App& app) {
  auto* netmap = app.add_subcommand(
      "netmap", "network mapping: the recovery and drill network of each source network");
  netmap->require_subcommand(1);

  struct AddArgs {
    ClientFlags flags;
    std::string source, recovery, drill, recovery_gw, drill_gw;
    std::vector<std::string> recovery_reserved, drill_reserved;
  };
  auto aa = std::make_shared<AddArgs>();
  auto* add = netmap->add_subcommand("add", "map a source network (add or replace)");
  add->add_option("source", aa->source, "the source network's name (as on the machines' NICs)")
      ->required();
  add->add_option("--recovery", aa->recovery, "failover network: NAME=SUBNET (10.50.1.0/24)")
      ->required();
  add->add_option("--drill", aa->drill, "drill network, isolated: NAME=SUBNET")->required();
  add->add_option("--recovery-gateway", aa->recovery_gw, "gateway in the recovery subnet");
  add->add_option("--drill-gateway", aa->drill_gw, "gateway in the drill subnet");
  add->add_option("--recovery-reserved", aa->recovery_reserved,
                  "addresses never given to a NIC in the recovery subnet")
      ->delimiter(',');
  add->add_option("--drill-reserved", aa->drill_reserved,
                  "addresses never given to a NIC in the drill subnet")
      ->delimiter(',');
  aa->flags.Add(add);
  add->callback([aa] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(json recovery, ParseTargetFlag("--recovery", aa->recovery,
                                                         aa->recovery_gw, aa->recovery_reserved));
      LL_ASSIGN_OR_RETURN(json drill,
                          ParseTargetFlag("--drill", aa->drill, aa->drill_gw, aa->drill_reserved));
      LL_ASSIGN_OR_RETURN(auto client, aa->flags.Client());
      LL_ASSIGN_OR_RETURN(json m, client.Post("/v1/network/mappings", {{"source", aa->source},
                                                                       {"recovery", recovery},
                                                                       {"drill", drill}}));
      Output(m, PrintMapping);
      return Status::Ok();
    });
  });

  auto lf = std::make_shared<ClientFlags>();
  auto* list = netmap->add_subcommand("list", "the network mappings");
  lf->Add(list);
  list->callback([lf] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, lf->Client());
      LL_ASSIGN_OR_RETURN(json all, client.Get("/v1/network/mappings"));
      if (Globals().json) {
        std::cout << all.dump(2) << "\n";
      } else if (all.empty()) {
        std::cout << "no network mappings: add one with `lifeline netmap add`\n";
      } else {
        for (const auto& m : all) PrintMapping(m);
      }
      return Status::Ok();
    });
  });

  struct RemoveArgs {
    ClientFlags flags;
    std::string source;
  };
  auto ra = std::make_shared<RemoveArgs>();
  auto* remove = netmap->add_subcommand("remove", "remove a source network's mapping");
  remove->add_option("source", ra->source, "the source network")->required();
  ra->flags.Add(remove);
  remove->callback([ra] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, ra->flags.Client());
      LL_ASSIGN_OR_RETURN(json r, client.Delete("/v1/network/mappings/" + ra->source));
      if (Globals().json) std::cout << r.dump(2) << "\n";
      else std::cout << "removed the mapping of " << ra->source << "\n";
      return Status::Ok();
    });
  });

  auto* st = netmap->add_subcommand(
      "static", "static addresses: what a NIC gets when it cannot keep its own");
  st->require_subcommand(1);
  struct StaticArgs {
    ClientFlags flags;
    std::string machine, ip;
    int nic = 0;
    bool drill = false;
  };
  auto sa = std::make_shared<StaticArgs>();
  auto* sset = st->add_subcommand("set", "give a NIC a static address (add or replace)");
  sset->add_option("machine", sa->machine, "machine name")->required();
  sset->add_option("--nic", sa->nic, "NIC index (0..15)")->required();
  sset->add_option("--ip", sa->ip, "the address, inside the target subnet")->required();
  sset->add_flag("--drill", sa->drill, "for drills (default: for failover)");
  sa->flags.Add(sset);
  sset->callback([sa] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, sa->flags.Client());
      LL_ASSIGN_OR_RETURN(json r, client.Post("/v1/network/static-ips",
                                              {{"machine", sa->machine},
                                               {"nic", sa->nic},
                                               {"mode", sa->drill ? "drill" : "recovery"},
                                               {"ip", sa->ip}}));
      Output(r, PrintRule);
      return Status::Ok();
    });
  });
  auto sl = std::make_shared<StaticArgs>();
  auto* slist = st->add_subcommand("list", "static addresses (of one machine, or all)");
  slist->add_option("machine", sl->machine, "machine name");
  sl->flags.Add(slist);
  slist->callback([sl] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, sl->flags.Client());
      LL_ASSIGN_OR_RETURN(json all,
                          client.Get("/v1/network/static-ips" +
                                     (sl->machine.empty() ? "" : "?machine=" + sl->machine)));
      if (Globals().json) {
        std::cout << all.dump(2) << "\n";
      } else if (all.empty()) {
        std::cout << "no static addresses\n";
      } else {
        for (const auto& r : all) PrintRule(r);
      }
      return Status::Ok();
    });
  });
  auto sr = std::make_shared<StaticArgs>();
  auto* srm = st->add_subcommand("remove", "remove a NIC's static address");
  srm->add_option("machine", sr->machine, "machine name")->required();
  srm->add_option("--nic", sr->nic, "NIC index (0..15)")->required()->check(CLI::Range(0, 15));
  srm->add_flag("--drill", sr->drill, "the drill address (default: the failover one)");
  sr->flags.Add(srm);
  srm->callback([sr] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, sr->flags.Client());
      LL_ASSIGN_OR_RETURN(json r, client.Delete("/v1/network/static-ips/" + sr->machine + "/" +
                                                std::to_string(sr->nic) + "/" +
                                                (sr->drill ? "drill" : "recovery")));
      if (Globals().json) std::cout << r.dump(2) << "\n";
      else std::cout << "removed\n";
      return Status::Ok();
    });
  });

  auto pa = std::make_shared<StaticArgs>();
  auto* preview = netmap->add_subcommand(
      "preview", "the address each NIC of a machine would get now, and why");
  preview->add_option("machine", pa->machine, "machine name")->required();
  preview->add_flag("--drill", pa->drill, "in the drill network (default: failover)");
  pa->flags.Add(preview);
  preview->callback([pa] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, pa->flags.Client());
      LL_ASSIGN_OR_RETURN(json r, client.Get("/v1/machines/" + pa->machine + "/network?mode=" +
                                             (pa->drill ? "drill" : "recovery")));
      if (Globals().json) {
        std::cout << r.dump(2) << "\n";
        return Status::Ok();
      }
      if (r["nics"].empty()) std::cout << pa->machine << " has no NICs\n";
      for (const auto& n : r["nics"]) {
        std::cout << pa->machine << " NIC " << n.value("index", 0) << "  "
                  << n.value("source_network", "") << " "
                  << (n.value("source_ip", "").empty() ? "DHCP" : n.value("source_ip", ""))
                  << "  ->  " << n.value("network", "") << " " << n.value("ip", "") << "/"
                  << n.value("prefix_len", 0);
        if (!n.value("gateway", "").empty()) std::cout << " gw " << n.value("gateway", "");
        std::cout << "  (" << n.value("reason", "") << ")\n";
      }
      return Status::Ok();
    });
  });
}

}  // namespace

void RegisterRecoveryConfigCommands(CLI::App& app) {
  RegisterMachineConfig(app);
  RegisterNetmap(app);
}

}  // namespace lifeline::cli
