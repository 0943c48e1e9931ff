// DiskReplica scrub: re-reads the manifest and every journal record, checks header and
// payload checksums and the data hash of the decoded bytes, and names the points affected.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/checksum.h"
#include "common/codec.h"
#include "common/log.h"
#include "store/disk_replica.h"
#include "store/segment.h"

namespace lifeline::store {

Result<ScrubReport> DiskReplica::Scrub() {
  std::shared_lock b(base_mu_);      // no fold or compaction removes segments meanwhile
  std::lock_guard a(append_mu_);     // the active segment's tail is complete while we read it
  ScrubReport report;
  uint64_t first_bad_seq = UINT64_MAX;
  auto manifest = ReadManifest(fs_, dir_);
  if (!manifest.ok()) {
    report.problems.push_back({JoinPath(dir_, kManifestFileName), 0, 0, manifest.status().message()});
    first_bad_seq = 0;
  }
  std::vector<std::shared_ptr<Segment>> segments;
  uint64_t folded;
  {
    std::shared_lock l(mu_);
    segments = sealed_;
    if (active_) segments.push_back(active_);
    folded = manifest_.folded_seq;
  }
  std::string payload, raw;
  for (const auto& seg : segments) {
    uint64_t last_good_seq = 0;
    auto scanned = seg->Scan(false, [&](const ScannedRecord& r) {
      ++report.records_checked;
      report.bytes_checked += kRecordHeaderSize + r.header.payload_size;
      last_good_seq = r.header.seq;
      if (r.header.payload_size == 0) return Status::Ok();
      Status s = seg->ReadVerifiedPayload(r.header, r.payload_offset, &payload);
      if (s.ok()) {
        if (r.header.codec == uint8_t(Codec::kNone)) {
          if (Xxh3(payload) != r.header.data_hash) s = Status::Corruption("data hash mismatch");
        } else {
          raw.resize(r.header.length);
          s = Decompress(Codec(r.header.codec), payload, raw.data(), raw.size());
          if (s.ok() && Xxh3(raw) != r.header.data_hash) s = Status::Corruption("data hash mismatch after decoding");
        }
      }
      if (!s.ok() && r.header.seq > folded) {
        report.problems.push_back({seg->path(), r.record_offset, r.header.seq, s.message()});
        first_bad_seq = std::min(first_bad_seq, r.header.seq);
      }
      return Status::Ok();
    });
    if (!scanned.ok()) {
      report.problems.push_back({seg->path(), 0, 0, scanned.status().message()});
      first_bad_seq = std::min(first_bad_seq, last_good_seq + 1);
    } else if (scanned->tail_damaged) {
      report.problems.push_back({seg->path(), scanned->valid_end, last_good_seq + 1, scanned->damage});
      first_bad_seq = std::min(first_bad_seq, last_good_seq + 1);
    }
  }
  {
    std::shared_lock l(mu_);
    for (const auto& p : manifest_.points)
      if (p.seq >= first_bad_seq) report.affected_point_ids.push_back(p.id);
  }
  std::string marker = JoinPath(dir_, kScrubMarkerFileName);
  if (!report.ok()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : report.problems)
      j.push_back({{"file", p.file}, {"offset", p.offset}, {"seq", p.seq}, {"problem", p.what}});
    if (!options_.read_only) (void)WriteFileAtomic(fs_, marker, j.dump(2));
    std::unique_lock l(mu_);
    if (read_only_reason_.empty())
      read_only_reason_ = "scrub found " + std::to_string(report.problems.size()) + " corrupt record(s), first: " +
                          report.problems.front().file + " offset " + std::to_string(report.problems.front().offset);
    log::Error("store", disk_id_ + ": " + read_only_reason_);
  } else if (fs_->Exists(marker) && !options_.read_only) {
    LL_RETURN_IF_ERROR(fs_->Remove(marker));
    LL_RETURN_IF_ERROR(fs_->SyncDir(dir_));
    std::unique_lock l(mu_);
    if (read_only_reason_.starts_with("the last scrub found corruption")) read_only_reason_.clear();
  }
  return report;
}

}  // namespace lifeline::store
