// Point exports: a recovery point of a disk replica served over NBD with a copy-on-write
// overlay, so a drill or a failover starts at once (nothing is copied) and the replica is
// never written (invariant 6). PointExports owns one NBD server on 127.0.0.1 and implements
// control::DiskExporter for drills and failovers. With a state file, exports survive a
// restart: the list and the server's port are saved on every change, each overlay keeps a
// map log of its written ranges, and the exported seq is pinned in the replica so retention
// keeps it readable.
// Thread-safe: OverlayBackend as nbd::Backend requires; PointExports takes an internal lock.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "control/drill_steps.h"
#include "nbd/backend.h"
#include "nbd/export_registry.h"
#include "nbd/server.h"
#include "store/disk_replica.h"
#include "store/range_set.h"
#include "store/replica_store.h"

namespace lifeline::vault {

// A point chosen on one disk: the seq it reads at and the recovery point it names (0 when
// the choice is a seq between points, e.g. "latest" or a time).
struct ResolvedPoint {
  uint64_t seq = 0;
  uint64_t point_id = 0;
  std::string description;
};

// Resolves a point choice on one disk:
//   latest             the newest durable write (point in time)
//   latest-processed   the newest recovery point
//   latest-app         the newest app-consistent point
//   latest-group       the newest group point
//   ID | id:ID         a recovery point id of this disk
//   seq:N              any readable seq
//   time:T             the newest write at or before T ("2026-11-23T10:00:00Z" or unix seconds)
// NotFound when no such point exists, InvalidArgument for a choice it does not know.
Result<ResolvedPoint> ResolvePoint(const store::DiskReplica& replica, const std::string& choice);

// The disk at `seq` of `replica` with writes diverted to a sparse overlay file. Reads take
// the overlay's written ranges first, else the replica at `seq`.
class OverlayBackend final : public nbd::Backend {
 public:
  // Creates (truncates) the overlay file and its map log (overlay_path + ".map").
  // REQUIRES: `replica` outlives the backend.
  static Result<std::shared_ptr<OverlayBackend>> Create(const store::DiskReplica* replica,
                                                        uint64_t seq,
                                                        const std::string& overlay_path);
  // Reopens an overlay after a restart: replays its map log (a torn tail is dropped) and
  // rewrites the log compacted. NotFound if the overlay or its map is missing.
  static Result<std::shared_ptr<OverlayBackend>> Open(const store::DiskReplica* replica,
                                                      uint64_t seq,
                                                      const std::string& overlay_path);
  static std::string MapPath(const std::string& overlay_path) { return overlay_path + ".map"; }
  ~OverlayBackend() override;

  uint64_t size() const override { return size_; }
  Status Read(uint64_t offset, MutableByteSpan out) override;
  Status Write(uint64_t offset, ByteSpan data, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length, bool fua) override;
  Status WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode mode, bool fua) override;
  Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                     std::vector<nbd::Extent>* out) override;

  uint64_t seq() const { return seq_; }
  uint64_t overlay_bytes() const;  // bytes of the disk the overlay holds

 private:
  enum : uint8_t { kData = 1, kZero = 2 };
  OverlayBackend(const store::DiskReplica* replica, uint64_t seq, int fd, uint64_t size,
                 std::string map_path)
      : replica_(replica), seq_(seq), fd_(fd), size_(size), map_path_(std::move(map_path)) {}
  // Appends one range to the map log; rewrites the log compacted once it holds far more
  // records than the map has ranges (so it stays bounded). REQUIRES: mu_ held exclusively.
  Status LogRangeLocked(uint64_t offset, uint64_t length, uint8_t kind);
  // Writes the current map as a new log (temp file, fsync, rename). REQUIRES: mu_ exclusive.
  Status RewriteMapLocked();
  Status FlushLocked();  // REQUIRES: mu_ held

  const store::DiskReplica* replica_;
  const uint64_t seq_;
  const int fd_;
  const uint64_t size_;
  const std::string map_path_;
  int map_fd_ = -1;
  uint64_t map_records_ = 0;  // records in the log file
  mutable std::shared_mutex mu_;      // readers vs. writers of the extent map
  store::RangeMap<uint8_t> written_;  // ranges the overlay holds (data or zeros)
};

// One export of one disk.
struct PointExportInfo {
  std::string operation;  // drill, failover
  std::string machine;
  std::string disk_id;  // store disk id
  std::string export_name;
  std::string nbd_url;
  std::string overlay_path;
  ResolvedPoint point;
};

class PointExports {
 public:
  // Overlays go to `overlay_dir`. With a `state_path`, the exports are saved there and
  // Restore() brings them back after a restart; without, they end with the object.
  PointExports(store::ReplicaStore* store, std::string overlay_dir, std::string state_path = "");
  ~PointExports();

  // Once, at start: re-creates every saved export at the same name and URL (the server
  // listens on the saved port again; if that port is taken, another one and the URLs
  // change), with its overlay's content, and re-pins its seq. Drops pins ("export/...") and
  // overlay files no saved export owns (leftovers of a crash mid-export). An export that
  // cannot come back (its disk is gone) is left out and named in `problems`.
  Status Restore(std::vector<std::string>* problems);

  // Exports `disk_id` at `choice` for (operation, machine); Busy if that disk is exported
  // for this operation already.
  Result<PointExportInfo> Export(const std::string& operation, const std::string& machine,
                                 const std::string& disk_id, const std::string& choice);
  // Removes the export and deletes its overlay; OK if there is none.
  Status Unexport(const std::string& operation, const std::string& machine,
                  const std::string& disk_id);
  std::vector<PointExportInfo> List(const std::string& machine = "") const;
  // The backend of an export (reads see the overlay's writes); NotFound if none.
  Result<std::shared_ptr<OverlayBackend>> BackendOf(const std::string& operation,
                                                    const std::string& machine,
                                                    const std::string& disk_id) const;
  uint16_t port() const;

  // A DiskExporter for the control plane's steps, naming its exports after `operation`.
  std::unique_ptr<control::DiskExporter> Exporter(const std::string& operation);

 private:
  Status StartServerLocked(uint16_t port = 0);
  Status SaveStateLocked();
  static std::string PinName(const PointExportInfo& info) { return "export/" + info.export_name; }
  static std::string Key(const std::string& operation, const std::string& machine,
                         const std::string& disk_id) {
    return operation + "/" + machine + "/" + disk_id;
  }

  store::ReplicaStore* store_;
  const std::string overlay_dir_;
  const std::string state_path_;
  nbd::ExportRegistry registry_;
  std::unique_ptr<nbd::Server> server_;
  mutable std::mutex mu_;
  std::map<std::string, PointExportInfo> exports_;
  std::map<std::string, std::shared_ptr<OverlayBackend>> backends_;
};

}  // namespace lifeline::vault
