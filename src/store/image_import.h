// Local import of a raw disk image into a replica: blocks that differ from the replica's
// newest state are appended (all-zero blocks as ZERO records), then a recovery point is
// taken. Used by `lifeline store import` to seed or update a replica on the same machine.
// Thread-compatible: one import per replica at a time.
#pragma once

#include <string>

#include "store/disk_replica.h"

namespace lifeline::store {

struct ImportOptions {
  uint32_t block_bytes = 64 * 1024;
  Codec codec = Codec::kNone;
  PointKind point_kind = PointKind::kUser;
  std::string label;
  ProgressFn progress;
};

struct ImportReport {
  uint64_t blocks_scanned = 0;
  uint64_t blocks_changed = 0;
  uint64_t zero_blocks = 0;
  uint64_t bytes_stored = 0;  // payload bytes appended
  RecoveryPoint point;
};

Result<ImportReport> ImportImage(DiskReplica* disk, const std::string& image_path, const ImportOptions& options,
                                 FileSystem* fs = nullptr);

}  // namespace lifeline::store
