// `lifeline group create|list|point|points`: consistency groups of machines in nbd mode and
// their group points (one crash-consistent point across every member machine), over the
// vault's API.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "common/units.h"

namespace lifeline::cli {
namespace {

using nlohmann::json;


void PrintPoint(const json& p) {
  std::cout << "group point " << p.value("group_point_id", uint64_t(0)) << "  "
            << p.value("time", "");
  if (p.contains("label") && !p["label"].get<std::string>().empty())
    std::cout << "  " << p["label"].get<std::string>();
  std::cout << "\n";
  for (const auto& m : p.value("members", json::array())) {
    std::cout << "  " << m.value("disk_id", "") << "  seq " << m.value("seq", uint64_t(0));
    if (m.contains("held_us"))
      std::cout << "  held " << double(m.value("held_us", int64_t(0))) / 1000.0 << " ms";
    std::cout << "\n";
  }
}

}  // namespace

void RegisterGroupCommands(CLI::App& app) {
  auto* group =
      app.add_subcommand("group", "consistency groups: points taken together across machines");
  group->require_subcommand(1);

  struct CreateArgs {
    ClientFlags flags;
    std::string name, interval;
    std::vector<std::string> machines;
  };
  auto ca = std::make_shared<CreateArgs>();
  auto* create =
      group->add_subcommand("create", "make a consistency group of machines protected in nbd mode");
  create->add_option("name", ca->name, "group name")->required();
  create->add_option("--machine", ca->machines, "a member machine (repeat; at most 16)")
      ->required();
  create->add_option("--interval", ca->interval,
                     "take a group point every INTERVAL (e.g. 30s, 5m); default: only on demand");
  ca->flags.Add(create);
  create->callback([ca] {
    RunCommand([&]() -> Status {
      json req = {{"name", ca->name}, {"machines", ca->machines}};
      if (!ca->interval.empty()) {
        LL_ASSIGN_OR_RETURN(int64_t s, ParseDurationSeconds(ca->interval));
        req["point_interval_s"] = s;
      }
      LL_ASSIGN_OR_RETURN(auto client, ca->flags.Client());
      LL_ASSIGN_OR_RETURN(json g, client.Post("/v1/groups", req));
      if (Globals().json)
        std::cout << g.dump(2) << "\n";
      else
        std::cerr << "group " << ca->name << " created with " << ca->machines.size()
                  << " machines\n";
      return Status::Ok();
    });
  });

  auto lf = std::make_shared<ClientFlags>();
  auto* list = group->add_subcommand("list", "the consistency groups, their members and points");
  lf->Add(list);
  list->callback([lf] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, lf->Client());
      LL_ASSIGN_OR_RETURN(json all, client.Get("/v1/groups"));
      if (Globals().json) return std::cout << all.dump(2) << "\n", Status::Ok();
      for (const auto& g : all) {
        std::cout << g.value("name", "") << "  machines";
        for (const auto& m : g["machines"]) std::cout << " " << m.get<std::string>();
        int64_t every = g.value("point_interval_s", int64_t(0));
        std::cout << "  points " << g.value("points", 0) << "  every "
                  << (every ? FormatDuration(double(every)) : std::string("on demand")) << "\n";
        if (g.contains("last_attempt") && !g["last_attempt"].value("ok", true))
          std::cout << "  last attempt failed: " << g["last_attempt"].value("error", "") << "\n";
      }
      return Status::Ok();
    });
  });

  struct PointArgs {
    ClientFlags flags;
    std::string name, label;
  };
  auto pa = std::make_shared<PointArgs>();
  auto* point = group->add_subcommand("point", "take a group point now on every member");
  point->add_option("name", pa->name, "group name")->required();
  point->add_option("--label", pa->label, "label of the point");
  pa->flags.Add(point);
  point->callback([pa] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, pa->flags.Client());
      LL_ASSIGN_OR_RETURN(
          json p, client.Post("/v1/groups/" + pa->name + "/points", {{"label", pa->label}}));
      if (Globals().json)
        std::cout << p.dump(2) << "\n";
      else
        PrintPoint(p);
      return Status::Ok();
    });
  });

  auto ptf = std::make_shared<PointArgs>();
  auto* points =
      group->add_subcommand("points", "the complete group points of a group, oldest first");
  points->add_option("name", ptf->name, "group name")->required();
  ptf->flags.Add(points);
  points->callback([ptf] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto client, ptf->flags.Client());
      LL_ASSIGN_OR_RETURN(json all, client.Get("/v1/groups/" + ptf->name + "/points"));
      if (Globals().json) return std::cout << all.dump(2) << "\n", Status::Ok();
      for (const auto& p : all) PrintPoint(p);
      return Status::Ok();
    });
  });
}

}  // namespace lifeline::cli
