// DiskReplica: the vault's copy of one disk — a sparse base image, append-only journal
// segments and a manifest — with group-committed appends, recovery points, reads of the disk
// as it was at any seq inside the retention window, materialization, retention (fold, point
// thinning, journal compaction), scrub and crash recovery on open.
// Thread-safe: appends are serialized internally; reads, points and Sync may be called from
// any thread concurrently with appends; retention excludes readers of the base while it runs.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/codec.h"
#include "common/fs.h"
#include "store/format.h"
#include "store/manifest.h"
#include "store/pins.h"

namespace lifeline::store {

class Segment;

struct DiskOptions {
  FileSystem* fs = nullptr;        // default: FileSystem::Posix()
  Clock* clock = nullptr;          // default: Clock::System()
  uint64_t segment_target_bytes = 256u << 20;
  bool read_only = false;
  // Materialize gives each of its threads at least this much of the disk (tests set it low
  // to run several threads over a small disk).
  uint64_t materialize_share_bytes = 256u << 20;
};

// One write as it arrives from the source, payload stored as received.
struct WriteRecord {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  RecordKind kind = RecordKind::kData;
  Codec codec = Codec::kNone;
  std::string_view payload;        // raw or compressed data; empty for zero/trim
  int64_t time_unix_ns = 0;        // source completion time (0: now)
  uint64_t data_hash = 0;          // xxh3 of the raw data if the sender computed it (0: compute)
};

struct PointRequest {
  uint64_t seq = 0;                // 0: the durable seq
  PointKind kind = PointKind::kCrash;
  std::string label;
  std::string group_id;
  uint64_t group_point_id = 0;
  std::vector<std::string> group_members;
  int64_t time_unix_ns = 0;        // 0: the source time of record `seq`
};

struct DiskInfo {
  std::string disk_id;
  std::string dir;
  uint64_t size_bytes = 0;
  uint64_t folded_seq = 0;         // oldest readable seq
  int64_t folded_time_unix_ns = 0;
  uint64_t durable_seq = 0;
  uint64_t appended_seq = 0;
  int64_t newest_time_unix_ns = 0;
  uint64_t journal_records = 0;
  uint64_t journal_bytes = 0;      // segment files on disk
  uint64_t segments = 0;
  uint64_t points = 0;
  uint64_t base_allocated_bytes = 0;
  std::string read_only_reason;    // empty: writable
  RetentionPolicy retention;
};

struct RetentionReport {
  uint64_t folded_to_seq = 0;      // new oldest seq (unchanged if nothing folded)
  uint64_t records_folded = 0;
  uint64_t points_expired = 0;     // older than the window
  uint64_t points_thinned = 0;     // dropped by the one-per-bucket rule
  uint64_t records_compacted = 0;  // dropped because later writes in the same span cover them
  uint64_t segments_removed = 0;
  uint64_t bytes_reclaimed = 0;
  uint64_t held_by_pin_seq = 0;    // the fold stopped at this pinned seq (0: no pin held it)
};

struct ScrubProblem {
  std::string file;
  uint64_t offset = 0;
  uint64_t seq = 0;                // 0 when unknown
  std::string what;
};
struct ScrubReport {
  uint64_t records_checked = 0;
  uint64_t bytes_checked = 0;
  std::vector<ScrubProblem> problems;
  std::vector<uint64_t> affected_point_ids;  // points whose state includes a bad record
  bool ok() const { return problems.empty(); }
};

using ProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

constexpr unsigned kMaxMaterializeThreads = 4;

class DiskReplica {
 public:
  // Creates an empty replica (reads as zeros at seq 0) in `dir`, which must not hold one.
  static Result<std::unique_ptr<DiskReplica>> Create(const std::string& dir,
                                                     const std::string& disk_id,
                                                     uint64_t size_bytes,
                                                     const RetentionPolicy& retention,
                                                     DiskOptions options = {});
  // Opens a replica, recovering from a crash: finishes an interrupted fold, truncates a torn
  // journal tail, drops files no manifest names, and recomputes the durable seq.
  static Result<std::unique_ptr<DiskReplica>> Open(const std::string& dir, DiskOptions options = {});
  ~DiskReplica();
  DiskReplica(const DiskReplica&) = delete;
  DiskReplica& operator=(const DiskReplica&) = delete;

  // Appends one record. The next seq appends; a seq at or below the last appended one is a
  // no-op (replay is idempotent); a gap is InvalidArgument. Durable only after Sync().
  Status Append(const WriteRecord& record);
  // Group commit: makes every appended record durable and returns the durable seq.
  // Concurrent callers share one fsync.
  Result<uint64_t> Sync();
  uint64_t durable_seq() const { return durable_seq_.load(); }
  uint64_t appended_seq() const;
  uint64_t folded_seq() const;
  uint64_t size_bytes() const { return size_bytes_; }
  const std::string& disk_id() const { return disk_id_; }
  const std::string& dir() const { return dir_; }

  // Recovery points. The point's seq must be durable and inside the retention window.
  Result<RecoveryPoint> AddPoint(const PointRequest& request);
  std::vector<RecoveryPoint> Points() const;
  Result<RecoveryPoint> FindPoint(uint64_t id) const;
  // Newest listed point at or before `time` (optionally of one kind).
  Result<RecoveryPoint> PointAtOrBefore(int64_t time_unix_ns, std::optional<PointKind> kind = {}) const;
  // Newest seq whose write completed at or before `time`: any seq is a point in time.
  Result<uint64_t> SeqAtOrBefore(int64_t time_unix_ns) const;
  // Source time of write `seq` (the fold time for the folded seq).
  Result<int64_t> TimeOfSeq(uint64_t seq) const;
  Status TagPoint(uint64_t id, const std::string& tag);
  Status RemovePoints(const std::vector<uint64_t>& ids);

  // Reads `n` bytes at `offset` of the disk as it was after write `seq`.
  Status ReadAt(uint64_t seq, uint64_t offset, void* out, size_t n) const;
  // Writes the disk at `seq` to a new raw image at `target_path` (zero ranges as holes),
  // fsynced before returning unless `sync` is false. Uses up to kMaxMaterializeThreads
  // threads (one per materialize_share_bytes of disk, at most one per core); `progress` is
  // called from the calling thread only.
  Status Materialize(uint64_t seq, const std::string& target_path, const ProgressFn& progress = {},
                     bool sync = true) const;
  // xxh3-64 of each `block_size` block of the disk at `seq` (the last block may be short).
  Result<std::vector<uint64_t>> BlockHashes(uint64_t seq, uint32_t block_size, uint64_t first_block,
                                            uint64_t count) const;

  // Folds records older than the window into the base, thins old points, compacts the journal.
  Result<RetentionReport> ApplyRetention(int64_t now_unix_ns);
  // Folds every record <= seq into the base (points older than seq are dropped).
  Result<RetentionReport> FoldTo(uint64_t seq);
  Status SetRetention(const RetentionPolicy& policy);
  // The source disk grew: the replica takes the new size (a multiple of 512, larger than
  // now); the new range reads as zeros until written, at every point, old ones included.
  // Crash-safe: the base grows first, then the manifest names the size. Shrinking is refused
  // (the points would lose data): re-protect the disk instead.
  Status Grow(uint64_t new_size_bytes);

  // Pins: a named seq that must stay readable (an export reads at it). Folds stop at the
  // oldest pin, thinning keeps the points at pinned seqs, and compaction keeps every pinned
  // view, so reads at a pinned seq stay byte-exact while retention runs. Pins are kept in the
  // PINS file (atomic replace) and survive a restart. Pinning again under the same name
  // moves the pin; NotFound when `seq` is not readable; InvalidArgument for a bad name.
  Status Pin(const std::string& name, uint64_t seq);
  Status Unpin(const std::string& name);  // OK if there is no such pin
  PinMap Pins() const;

  // Verifies every record checksum (and data hash) and the manifest. A failed scrub leaves a
  // marker that makes the replica open read-only until a clean scrub removes it.
  Result<ScrubReport> Scrub();

  DiskInfo Info() const;
  std::string read_only_reason() const;

 private:
  struct RecordMeta {
    uint64_t seq;
    uint64_t offset;
    uint32_t length;
    uint32_t payload_size;
    int64_t time_unix_ns;
    uint64_t data_hash;
    uint64_t payload_checksum;
    uint64_t payload_offset;
    RecordKind kind;
    uint8_t codec;
    std::shared_ptr<Segment> segment;
    uint64_t end() const { return offset + length; }
  };
  // A piece of the disk view at some seq: where its bytes come from.
  struct Piece {
    uint64_t start, end;
    bool from_base;
    RecordMeta record;  // valid when !from_base
  };

  DiskReplica(std::string dir, DiskOptions options);
  Status Recover();
  Status LoadSegments();
  Status RollSegmentLocked();  // REQUIRES: append_mu_ held
  // Writes `next` durably and installs it as manifest_. REQUIRES: manifest_mu_ held.
  Status CommitManifestLocked(Manifest next);
  Status SetReadOnly(std::string reason);
  void IndexRecordLocked(RecordMeta meta);  // REQUIRES: mu_ held exclusively
  void RebuildIndexLocked();
  Status CheckReadableSeq(uint64_t seq) const;  // REQUIRES: mu_ held (shared)
  // The records (newest wins) and base pieces that make up [start,end) at seq.
  void ViewLocked(uint64_t seq, uint64_t start, uint64_t end, std::vector<Piece>* out) const;
  // The whole disk at seq as ordered pieces (newest write wins).
  std::vector<Piece> FullViewLocked(uint64_t seq) const;
  size_t LowerBoundSeqLocked(uint64_t seq) const;  // index of the first record with seq >= seq
  Status ReadPiece(const Piece& piece, uint8_t* out) const;
  Status ReadRecordRange(const RecordMeta& r, uint64_t start, uint64_t end, uint8_t* out) const;
  // Materialize's worker: pieces [begin, end) into `target`, adding the bytes covered to `done`.
  Status MaterializePieces(const std::vector<Piece>& pieces, size_t begin, size_t end, File* target,
                           std::atomic<uint64_t>* done) const;
  Status ApplyRecordsToBase(const std::vector<RecordMeta>& records);
  Result<RetentionReport> FoldToLocked(uint64_t seq);  // REQUIRES: base_mu_ exclusive
  Status CompactLocked(uint64_t cutoff_seq, RetentionReport* report);
  std::vector<RecoveryPoint> ThinPoints(int64_t now_unix_ns, uint64_t* expired, uint64_t* thinned) const;
  Status LoadPins();
  std::optional<uint64_t> MinPinnedSeq() const;

  const std::string dir_;
  const DiskOptions options_;
  FileSystem* const fs_;
  Clock* const clock_;
  std::string disk_id_;
  std::atomic<uint64_t> size_bytes_{0};  // grows (Grow), never shrinks
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<File> base_;

  mutable std::mutex append_mu_;        // one appender at a time
  mutable std::mutex sync_mu_;          // one fsync at a time (group commit)
  mutable std::mutex manifest_mu_;      // one manifest writer at a time
  mutable std::shared_mutex base_mu_;   // readers of the base vs. fold
  mutable std::shared_mutex mu_;        // manifest_, records_, chunks_, active_
  Manifest manifest_;
  mutable std::mutex pins_mu_;          // pins_ and the PINS file; taken after base_mu_
  PinMap pins_;
  std::deque<RecordMeta> records_;      // seq order; records_[i] has id first_id_ + i
  uint64_t first_id_ = 0;
  std::unordered_map<uint64_t, std::vector<uint64_t>> chunks_;  // chunk -> record ids
  std::shared_ptr<Segment> active_;
  std::vector<std::shared_ptr<Segment>> sealed_;
  uint64_t appended_seq_ = 0;
  std::atomic<uint64_t> durable_seq_{0};
  std::string read_only_reason_;
};

// Bytes of the disk covered by one index chunk.
constexpr uint64_t kIndexChunkBytes = 64 * 1024;
constexpr char kBaseFileName[] = "base.img";
constexpr char kScrubMarkerFileName[] = "SCRUB-FAILED";

}  // namespace lifeline::store
