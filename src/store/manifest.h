// The per-disk manifest: what the replica consists of (folded seq, live segments, recovery
// points, retention policy). Replaced atomically (temp file, fsync, rename, fsync dir).
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace lifeline::store {

enum class PointKind : uint8_t { kCrash = 0, kApp = 1, kGroup = 2, kUser = 3 };
std::string_view PointKindName(PointKind kind);
Result<PointKind> ParsePointKind(std::string_view name);

struct RecoveryPoint {
  uint64_t id = 0;             // unique per disk
  uint64_t seq = 0;            // the disk reads as it was after write `seq`
  int64_t time_unix_ns = 0;    // source time of the point
  PointKind kind = PointKind::kCrash;
  std::string label;           // user label (may be empty)
  std::string group_id;        // consistency group (kind group), else empty
  uint64_t group_point_id = 0; // same value on every member disk of a group point
  std::vector<std::string> group_members;  // disk ids the group point spans
  std::vector<std::string> tags;           // e.g. "tested at 2026-11-23T10:00:00Z"
};

struct RetentionPolicy {
  int64_t window_seconds = 24 * 3600;     // records older than this are folded into the base
  int64_t keep_all_seconds = 2 * 3600;    // every point (and every seq) of the newest span
  int64_t keep_one_per_seconds = 3600;    // older points: one per bucket of this length
};

struct SegmentInfo {
  uint64_t number = 0;
  std::string file_name() const;
};

struct Manifest {
  std::string disk_id;
  uint64_t size_bytes = 0;
  int64_t created_unix_ns = 0;
  uint64_t folded_seq = 0;        // the base holds every record <= folded_seq
  int64_t folded_time_unix_ns = 0;
  uint64_t fold_target_seq = 0;   // a fold to this seq is in progress (0: none)
  uint64_t next_segment_number = 1;
  uint64_t next_point_id = 1;
  std::vector<SegmentInfo> segments;  // in seq order; the last one is active
  std::vector<RecoveryPoint> points;  // in seq order
  RetentionPolicy retention;
};

std::string EncodeManifest(const Manifest& m);
Result<Manifest> DecodeManifest(std::string_view file, std::string_view name);

constexpr char kManifestFileName[] = "MANIFEST";
Status WriteManifest(FileSystem* fs, const std::string& dir, const Manifest& m);
Result<Manifest> ReadManifest(FileSystem* fs, const std::string& dir);

}  // namespace lifeline::store
