// `lifeline store ...`: operator commands on a replica store directory: create, import,
// inspect, points, verify (scrub), materialize, retention.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "common/units.h"
#include "store/image_import.h"
#include "store/replica_store.h"

namespace lifeline::cli {
namespace {

using nlohmann::json;
using store::DiskReplica;
using store::ReplicaStore;

json PointJson(const store::RecoveryPoint& p) {
  return {{"id", p.id},         {"seq", p.seq},
          {"time", FormatTime(p.time_unix_ns)},
          {"kind", store::PointKindName(p.kind)},
          {"label", p.label},   {"group_id", p.group_id},
          {"tags", p.tags}};
}

json InfoJson(const store::DiskInfo& i) {
  return {{"disk_id", i.disk_id},
          {"size_bytes", i.size_bytes},
          {"oldest_seq", i.folded_seq},
          {"oldest_time", FormatTime(i.folded_time_unix_ns)},
          {"durable_seq", i.durable_seq},
          {"newest_time", FormatTime(i.newest_time_unix_ns)},
          {"journal_records", i.journal_records},
          {"journal_bytes", i.journal_bytes},
          {"segments", i.segments},
          {"points", i.points},
          {"base_allocated_bytes", i.base_allocated_bytes},
          {"retention", {{"window_s", i.retention.window_seconds},
                         {"keep_all_s", i.retention.keep_all_seconds},
                         {"keep_one_per_s", i.retention.keep_one_per_seconds}}},
          {"read_only_reason", i.read_only_reason}};
}

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

struct StoreArgs {
  std::string dir;
  std::string disk;
};

Result<std::unique_ptr<ReplicaStore>> OpenStore(const std::string& dir, bool read_only) {
  store::DiskOptions opts;
  opts.read_only = read_only;
  return ReplicaStore::Open(dir, opts);
}

// Resolves --point / --seq / --time / --latest to a seq of the disk.
struct PointSelector {
  uint64_t point_id = 0;
  uint64_t seq = 0;
  std::string time;
  bool latest = false;
  void Add(CLI::App* cmd) {
    cmd->add_option("--point", point_id, "recovery point id");
    cmd->add_option("--seq", seq, "any write seq inside the retention window");
    cmd->add_option("--time", time, "newest state at or before this time (ISO 8601 UTC or unix s)");
    cmd->add_flag("--latest", latest, "the newest durable state");
  }
  Result<uint64_t> Resolve(const DiskReplica& d) const {
    int given = (point_id != 0) + (seq != 0) + !time.empty() + latest;
    if (given != 1) return Status::InvalidArgument("choose exactly one of --point, --seq, --time, --latest");
    if (point_id) {
      LL_ASSIGN_OR_RETURN(auto p, d.FindPoint(point_id));
      return p.seq;
    }
    if (seq) return seq;
    if (latest) return d.durable_seq();
    LL_ASSIGN_OR_RETURN(int64_t t, ParseTime(time));
    return d.SeqAtOrBefore(t);
  }
};

}  // namespace

void RegisterStoreCommands(CLI::App& app) {
  auto* store_cmd = app.add_subcommand("store", "inspect and operate a replica store directly");
  store_cmd->require_subcommand(1);
  auto args = std::make_shared<StoreArgs>();
  auto add_common = [&](CLI::App* c, bool disk_required) {
    c->add_option("dir", args->dir, "replica store directory")->required();
    auto* o = c->add_option("--disk", args->disk, "disk id");
    if (disk_required) o->required();
    c->add_flag("--json", Globals().json, "JSON output on stdout");
  };

  // create
  auto* create = store_cmd->add_subcommand("create", "create a disk replica in a store");
  add_common(create, true);
  auto size = std::make_shared<std::string>();
  auto like = std::make_shared<std::string>();
  auto window = std::make_shared<std::string>("24h");
  create->add_option("--size", *size, "disk size (e.g. 10G)");
  create->add_option("--like", *like, "take the size of this image");
  create->add_option("--retention", *window, "retention window (e.g. 24h, 3d)");
  create->callback([args, size, like, window] {
    RunCommand([&]() -> Status {
      uint64_t bytes = 0;
      if (!like->empty()) {
        LL_ASSIGN_OR_RETURN(auto f, FileSystem::Posix()->Open(*like, OpenMode::kRead));
        LL_ASSIGN_OR_RETURN(bytes, f->Size());
      } else if (!size->empty()) {
        LL_ASSIGN_OR_RETURN(bytes, ParseBytes(*size));
      } else {
        return Status::InvalidArgument("give --size or --like");
      }
      store::RetentionPolicy policy;
      LL_ASSIGN_OR_RETURN(policy.window_seconds, ParseDurationSeconds(*window));
      policy.keep_all_seconds = std::min<int64_t>(policy.keep_all_seconds, policy.window_seconds);
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, false));
      LL_ASSIGN_OR_RETURN(DiskReplica * d, s->CreateDisk(args->disk, bytes, policy));
      if (Globals().json) PrintJson(InfoJson(d->Info()));
      else std::cerr << "created disk " << args->disk << " (" << FormatBytes(double(bytes)) << ") in " << args->dir << "\n";
      return Status::Ok();
    });
  });

  // import
  auto* import = store_cmd->add_subcommand("import", "append the blocks of an image that differ, then take a point");
  add_common(import, true);
  auto image = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  auto compress = std::make_shared<std::string>("none");
  import->add_option("--image", *image, "raw image file")->required();
  import->add_option("--label", *label, "label of the recovery point");
  import->add_option("--compress", *compress, "none | lz4 | zstd");
  import->callback([args, image, label, compress] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, false));
      LL_ASSIGN_OR_RETURN(DiskReplica * d, s->Disk(args->disk));
      store::ImportOptions opts;
      LL_ASSIGN_OR_RETURN(opts.codec, ParseCodec(*compress));
      opts.label = *label;
      ProgressBar bar("import " + args->disk, d->size_bytes(), !Globals().json);
      opts.progress = [&](uint64_t done, uint64_t) { bar.Update(done); };
      LL_ASSIGN_OR_RETURN(auto r, store::ImportImage(d, *image, opts));
      bar.Finish();
      json j = {{"blocks_scanned", r.blocks_scanned}, {"blocks_changed", r.blocks_changed},
                {"zero_blocks", r.zero_blocks},       {"bytes_stored", r.bytes_stored},
                {"point", PointJson(r.point)}};
      if (Globals().json) PrintJson(j);
      else
        std::cerr << "imported " << r.blocks_changed << " of " << r.blocks_scanned << " blocks ("
                  << r.zero_blocks << " zero), " << FormatBytes(double(r.bytes_stored)) << " stored; point "
                  << r.point.id << " at seq " << r.point.seq << "\n";
      return Status::Ok();
    });
  });

  // inspect
  auto* inspect = store_cmd->add_subcommand("inspect", "show the disks of a store, their seqs, journal and base");
  add_common(inspect, false);
  inspect->callback([args] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, true));
      std::vector<std::string> ids;
      if (!args->disk.empty()) ids.push_back(args->disk);
      else {
        LL_ASSIGN_OR_RETURN(ids, s->DiskIds());
      }
      json out = json::array();
      for (const auto& id : ids) {
        LL_ASSIGN_OR_RETURN(DiskReplica * d, s->Disk(id));
        auto info = d->Info();
        out.push_back(InfoJson(info));
        if (!Globals().json) {
          std::cout << id << ": " << FormatBytes(double(info.size_bytes)) << ", seq " << info.folded_seq << ".."
                    << info.durable_seq << " (" << FormatTime(info.folded_time_unix_ns) << " .. "
                    << FormatTime(info.newest_time_unix_ns) << "), " << info.journal_records << " records in "
                    << info.segments << " segments (" << FormatBytes(double(info.journal_bytes)) << "), base "
                    << FormatBytes(double(info.base_allocated_bytes)) << " allocated, " << info.points
                    << " points";
          if (info.read_only_reason != "opened read-only" && !info.read_only_reason.empty())
            std::cout << "\n  READ-ONLY: " << info.read_only_reason;
          std::cout << "\n";
        }
      }
      if (Globals().json) PrintJson(out);
      return Status::Ok();
    });
  });

  // points
  auto* points = store_cmd->add_subcommand("points", "list the recovery points of a disk");
  add_common(points, true);
  points->callback([args] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, true));
      LL_ASSIGN_OR_RETURN(DiskReplica * d, s->Disk(args->disk));
      json out = json::array();
      for (const auto& p : d->Points()) {
        out.push_back(PointJson(p));
        if (!Globals().json)
          std::cout << p.id << "\t" << FormatTime(p.time_unix_ns) << "\tseq " << p.seq << "\t"
                    << store::PointKindName(p.kind) << (p.label.empty() ? "" : "\t" + p.label)
                    << (p.tags.empty() ? "" : "\t[" + p.tags.back() + "]") << "\n";
      }
      if (Globals().json) PrintJson(out);
      return Status::Ok();
    });
  });

  // verify
  auto* verify = store_cmd->add_subcommand("verify", "scrub: check every record and manifest, name affected points");
  add_common(verify, false);
  verify->callback([args] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, false));
      std::unique_ptr<ReplicaStore> shared;  // read-only view of replicas a running vault holds
      std::vector<std::string> ids;
      if (!args->disk.empty()) ids.push_back(args->disk);
      else {
        LL_ASSIGN_OR_RETURN(ids, s->DiskIds());
      }
      json out = json::array();
      size_t bad = 0;
      for (const auto& id : ids) {
        auto opened = s->Disk(id);
        if (!opened.ok() && opened.status().code() == Code::kBusy) {
          // A running vault holds the replica: scrub it read-only (no marker is written).
          if (!shared) {
            LL_ASSIGN_OR_RETURN(shared, OpenStore(args->dir, true));
          }
          if (!Globals().json) std::cerr << id << ": in use by a running vault, verified read-only\n";
          opened = shared->Disk(id);
        }
        LL_ASSIGN_OR_RETURN(DiskReplica * d, opened);
        LL_ASSIGN_OR_RETURN(auto r, d->Scrub());
        json problems = json::array();
        for (const auto& p : r.problems)
          problems.push_back({{"file", p.file}, {"offset", p.offset}, {"seq", p.seq}, {"problem", p.what}});
        out.push_back({{"disk_id", id}, {"ok", r.ok()}, {"records_checked", r.records_checked},
                       {"bytes_checked", r.bytes_checked}, {"problems", problems},
                       {"affected_points", r.affected_point_ids}});
        if (!Globals().json) {
          std::cout << id << ": " << (r.ok() ? "OK" : "CORRUPT") << ", " << r.records_checked << " records, "
                    << FormatBytes(double(r.bytes_checked)) << " checked\n";
          for (const auto& p : r.problems)
            std::cout << "  " << p.file << " offset " << p.offset << (p.seq ? " seq " + std::to_string(p.seq) : "")
                      << ": " << p.what << "\n";
          if (!r.affected_point_ids.empty()) {
            std::cout << "  affected points:";
            for (auto pid : r.affected_point_ids) std::cout << " " << pid;
            std::cout << "\n";
          }
        }
        bad += !r.ok();
      }
      if (Globals().json) PrintJson(out);
      if (bad) return Status::Corruption(std::to_string(bad) + " disk(s) failed verification");
      return Status::Ok();
    });
  });

  // materialize
  auto* mat = store_cmd->add_subcommand("materialize", "write a disk as it was at a point to a sparse raw image");
  add_common(mat, true);
  auto sel = std::make_shared<PointSelector>();
  auto output = std::make_shared<std::string>();
  auto no_fsync = std::make_shared<bool>(false);
  sel->Add(mat);
  mat->add_flag("--no-fsync", *no_fsync, "do not fsync the image before returning");
  mat->add_option("--output,-o", *output, "target image path")->required();
  mat->callback([args, sel, output, no_fsync] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, true));
      LL_ASSIGN_OR_RETURN(DiskReplica * d, s->Disk(args->disk));
      LL_ASSIGN_OR_RETURN(uint64_t seq, sel->Resolve(*d));
      ProgressBar bar("materialize " + args->disk, d->size_bytes(), !Globals().json);
      auto start = std::chrono::steady_clock::now();
      LL_RETURN_IF_ERROR(
          d->Materialize(seq, *output, [&](uint64_t done, uint64_t) { bar.Update(done); }, !*no_fsync));
      bar.Finish();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      LL_ASSIGN_OR_RETURN(int64_t t, d->TimeOfSeq(seq));
      if (Globals().json)
        PrintJson({{"disk_id", args->disk}, {"seq", seq}, {"time", FormatTime(t)}, {"output", *output},
                   {"seconds", secs}});
      else
        std::cerr << "materialized " << args->disk << " at seq " << seq << " (" << FormatTime(t) << ") to "
                  << *output << " in " << FormatDuration(secs) << "\n";
      return Status::Ok();
    });
  });

  // retention
  auto* ret = store_cmd->add_subcommand("retention", "fold old records, thin old points, compact the journal");
  add_common(ret, true);
  auto now = std::make_shared<std::string>();
  ret->add_option("--now", *now, "evaluate retention as of this time (default: now)");
  ret->callback([args, now] {
    RunCommand([&]() -> Status {
      LL_ASSIGN_OR_RETURN(auto s, OpenStore(args->dir, false));
      LL_ASSIGN_OR_RETURN(DiskReplica * d, s->Disk(args->disk));
      int64_t t = Clock::System()->NowUnixNanos();
      if (!now->empty()) {
        LL_ASSIGN_OR_RETURN(t, ParseTime(*now));
      }
      LL_ASSIGN_OR_RETURN(auto r, d->ApplyRetention(t));
      json j = {{"oldest_seq", r.folded_to_seq},        {"records_folded", r.records_folded},
                {"points_expired", r.points_expired},   {"points_thinned", r.points_thinned},
                {"records_compacted", r.records_compacted}, {"segments_removed", r.segments_removed},
                {"bytes_reclaimed", r.bytes_reclaimed}};
      if (Globals().json) PrintJson(j);
      else std::cerr << j.dump() << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace lifeline::cli
