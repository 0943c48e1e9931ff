// DiskReplica reads: the view of the disk at a seq (newest record at or below it wins, else
// the base), random-access reads, block hashes and materialization to a sparse raw image.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/checksum.h"
#include "store/disk_replica.h"
#include "store/range_set.h"
#include "store/segment.h"

namespace lifeline::store {

Status DiskReplica::CheckReadableSeq(uint64_t seq) const {
  if (seq < manifest_.folded_seq)
    return Status::NotFound("seq " + std::to_string(seq) + " of disk " + disk_id_ +
                            " is older than the retention window (oldest readable seq " +
                            std::to_string(manifest_.folded_seq) + ")");
  if (seq > durable_seq_.load())
    return Status::NotFound("seq " + std::to_string(seq) + " of disk " + disk_id_ +
                            " is not durable yet (durable seq " + std::to_string(durable_seq_.load()) + ")");
  return Status::Ok();
}

void DiskReplica::ViewLocked(uint64_t seq, uint64_t start, uint64_t end, std::vector<Piece>* out) const {
  size_t first_out = out->size();
  for (uint64_t chunk = start / kIndexChunkBytes; chunk * kIndexChunkBytes < end; ++chunk) {
    uint64_t a = std::max(start, chunk * kIndexChunkBytes);
    uint64_t b = std::min(end, (chunk + 1) * kIndexChunkBytes);
    // Ranges of [a,b) no record has claimed yet; few, so a small vector.
    std::vector<std::pair<uint64_t, uint64_t>> uncovered{{a, b}};
    auto it = chunks_.find(chunk);
    if (it != chunks_.end()) {
      const auto& ids = it->second;
      // ids ascend with seq: find the newest record at or below seq, then walk back.
      auto pos = std::upper_bound(ids.begin(), ids.end(), seq, [&](uint64_t s, uint64_t id) {
        return id >= first_id_ && s < records_[id - first_id_].seq;
      });
      for (auto rit = std::make_reverse_iterator(pos); rit != ids.rend() && !uncovered.empty(); ++rit) {
        if (*rit < first_id_) break;  // folded into the base
        const RecordMeta& r = records_[*rit - first_id_];
        std::vector<std::pair<uint64_t, uint64_t>> rest;
        for (auto [u0, u1] : uncovered) {
          uint64_t o0 = std::max(u0, r.offset), o1 = std::min(u1, r.end());
          if (o0 >= o1) {
            rest.emplace_back(u0, u1);
            continue;
          }
          out->push_back(Piece{o0, o1, false, r});
          if (u0 < o0) rest.emplace_back(u0, o0);
          if (o1 < u1) rest.emplace_back(o1, u1);
        }
        uncovered.swap(rest);
      }
    }
    for (auto [u0, u1] : uncovered) out->push_back(Piece{u0, u1, true, {}});
  }
  std::sort(out->begin() + long(first_out), out->end(),
            [](const Piece& x, const Piece& y) { return x.start < y.start; });
}

std::vector<DiskReplica::Piece> DiskReplica::FullViewLocked(uint64_t seq) const {
  RangeMap<size_t> view;  // value: index into records_
  size_t end = LowerBoundSeqLocked(seq + 1);
  for (size_t i = 0; i < end; ++i) view.Assign(records_[i].offset, records_[i].end(), i);
  std::vector<Piece> pieces;
  uint64_t pos = 0;
  for (const auto& [start, e] : view.entries()) {
    if (pos < start) pieces.push_back(Piece{pos, start, true, {}});
    pieces.push_back(Piece{start, e.end, false, records_[e.value]});
    pos = e.end;
  }
  if (pos < size_bytes_) pieces.push_back(Piece{pos, size_bytes_, true, {}});
  return pieces;
}

Status DiskReplica::ReadRecordRange(const RecordMeta& r, uint64_t start, uint64_t end, uint8_t* out) const {
  size_t n = size_t(end - start);
  if (r.kind != RecordKind::kData) {
    std::memset(out, 0, n);
    return Status::Ok();
  }
  if (r.codec == uint8_t(Codec::kNone) && n < r.length) {
    // A part of a raw record: read just those bytes (scrub verifies whole records).
    return r.segment->ReadPayload(r.payload_offset + (start - r.offset), out, n);
  }
  RecordHeader h;
  h.seq = r.seq;
  h.payload_size = r.payload_size;
  h.payload_checksum = r.payload_checksum;
  std::string payload;
  LL_RETURN_IF_ERROR(r.segment->ReadVerifiedPayload(h, r.payload_offset, &payload));
  if (r.codec == uint8_t(Codec::kNone)) {
    std::memcpy(out, payload.data() + (start - r.offset), n);
    return Status::Ok();
  }
  std::string raw(r.length, '\0');
  LL_RETURN_IF_ERROR(Decompress(Codec(r.codec), payload, raw.data(), raw.size()));
  std::memcpy(out, raw.data() + (start - r.offset), n);
  return Status::Ok();
}

Status DiskReplica::ReadPiece(const Piece& p, uint8_t* out) const {
  if (!p.from_base) return ReadRecordRange(p.record, p.start, p.end, out);
  size_t n = size_t(p.end - p.start);
  LL_ASSIGN_OR_RETURN(size_t got, base_->ReadAt(p.start, out, n));
  if (got < n) std::memset(out + got, 0, n - got);
  return Status::Ok();
}

Status DiskReplica::ReadAt(uint64_t seq, uint64_t offset, void* out, size_t n) const {
  if (offset > size_bytes_ || n > size_bytes_ - offset)
    return Status::InvalidArgument("read at offset " + std::to_string(offset) + " length " +
                                   std::to_string(n) + " is outside disk " + disk_id_ + " (" +
                                   std::to_string(size_bytes_) + " bytes)");
  if (n == 0) return Status::Ok();
  std::shared_lock b(base_mu_);  // no fold while we may read the base
  std::vector<Piece> pieces;
  {
    std::shared_lock l(mu_);
    LL_RETURN_IF_ERROR(CheckReadableSeq(seq));
    ViewLocked(seq, offset, offset + n, &pieces);
  }
  auto* dst = static_cast<uint8_t*>(out);
  for (const auto& p : pieces) LL_RETURN_IF_ERROR(ReadPiece(p, dst + (p.start - offset)));
  return Status::Ok();
}

Result<std::vector<uint64_t>> DiskReplica::BlockHashes(uint64_t seq, uint32_t block_size,
                                                       uint64_t first_block, uint64_t count) const {
  if (block_size == 0 || block_size > (16u << 20))
    return Status::InvalidArgument("block size must be 1..16 MiB");
  std::vector<uint64_t> hashes;
  std::string buf;
  for (uint64_t b = first_block; b < first_block + count; ++b) {
    uint64_t off = b * block_size;
    if (off >= size_bytes_) break;
    size_t n = size_t(std::min<uint64_t>(block_size, size_bytes_ - off));
    buf.resize(n);
    LL_RETURN_IF_ERROR(ReadAt(seq, off, buf.data(), n));
    hashes.push_back(Xxh3(buf));
  }
  return hashes;
}

namespace {
// Copies [start,end) from one descriptor to another in the kernel when both are plain files.
Status CopyRange(File* source, File* target, uint64_t start, uint64_t end, std::string* buf) {
  if (source->fd() >= 0 && target->fd() >= 0) {
    loff_t in = loff_t(start), outp = loff_t(start);
    uint64_t left = end - start;
    while (left > 0) {
      ssize_t n = ::copy_file_range(source->fd(), &in, target->fd(), &outp, size_t(std::min<uint64_t>(left, 1u << 30)), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) break;
        return Status::FromErrno(errno, "copy to " + target->path());
      }
      if (n == 0) break;
      left -= uint64_t(n);
    }
    if (left == 0) return Status::Ok();
    start = end - left;
  }
  buf->resize(1u << 20);
  for (uint64_t pos = start; pos < end;) {
    size_t n = size_t(std::min<uint64_t>(buf->size(), end - pos));
    LL_ASSIGN_OR_RETURN(size_t got, source->ReadAt(pos, buf->data(), n));
    if (got < n) std::memset(buf->data() + got, 0, n - got);
    if (!IsAllZero(buf->data(), n)) LL_RETURN_IF_ERROR(target->WriteAt(pos, buf->data(), n));
    pos += n;
  }
  return Status::Ok();
}

}  // namespace

// One worker's share of a materialization: pieces [begin, end) of the view, written to
// `target` at their disk offsets. Adds the bytes it covers to `*done` as it goes.
Status DiskReplica::MaterializePieces(const std::vector<Piece>& pieces, size_t begin, size_t end,
                                      File* target, std::atomic<uint64_t>* done) const {
  std::string buf, rec, batch;
  std::vector<iovec> iov;
  // A whole raw record that a batched read can take as is.
  auto batchable = [](const Piece& p) {
    return !p.from_base && p.record.kind == RecordKind::kData &&
           p.record.codec == uint8_t(Codec::kNone) && p.start == p.record.offset &&
           p.end == p.record.end();
  };
  // Small enough that read, hash and write of a batch happen while it is still in cache.
  // Larger writes make the kernel allocate larger page-cache folios for the output, which
  // measured slower on the project's virtual machines (their memory is handed back to the
  // host in large free blocks, and touching it again faults on the host): 4 MiB batches
  // took 2-5x the system time of 192 KiB ones.
  constexpr uint64_t kBatchBytes = 192u << 10;
  constexpr size_t kBatchRecords = 500;  // two iovecs each, below IOV_MAX
  for (size_t i = begin; i < end; ++i) {
    const Piece& p = pieces[i];
    if (batchable(p)) {
      // Records written one after another, both in the segment and on the disk (an initial
      // replication, an import): one read of the segment range, each payload checked against
      // its checksum while it is in cache, and each run of non-zero payloads written with
      // one write.
      size_t j = i;
      uint64_t file_end = p.record.payload_offset + p.record.payload_size;
      while (j + 1 < end && j + 1 - i < kBatchRecords && batchable(pieces[j + 1]) &&
             pieces[j + 1].record.segment == p.record.segment &&
             pieces[j + 1].record.payload_offset == file_end + kRecordHeaderSize &&
             pieces[j + 1].start == pieces[j].end &&
             file_end - p.record.payload_offset < kBatchBytes) {
        ++j;
        file_end = pieces[j].record.payload_offset + pieces[j].record.payload_size;
      }
      rec.resize(size_t(pieces[j].end - p.start));
      int seg_fd = p.record.segment->fd();
      if (seg_fd >= 0) {
        // Scatter the payloads straight to their places in the output buffer and the record
        // headers between them to a scratch buffer: one read, no copy.
        char headers[kRecordHeaderSize];
        iov.clear();
        for (size_t k = i; k <= j; ++k) {
          if (k > i) iov.push_back({headers, kRecordHeaderSize});
          iov.push_back({rec.data() + (pieces[k].start - p.start), pieces[k].record.payload_size});
        }
        size_t want = size_t(file_end - p.record.payload_offset), got = 0;
        ssize_t n = ::preadv(seg_fd, iov.data(), int(iov.size()), off_t(p.record.payload_offset));
        if (n > 0) got = size_t(n);
        if (got != want) {
          return Status::IOError(p.record.segment->path() + ": short read of " +
                                 std::to_string(want) + " bytes at " +
                                 std::to_string(p.record.payload_offset));
        }
      } else {
        batch.resize(size_t(file_end - p.record.payload_offset));
        LL_RETURN_IF_ERROR(
            p.record.segment->ReadPayload(p.record.payload_offset, batch.data(), batch.size()));
        for (size_t k = i; k <= j; ++k) {
          const RecordMeta& r = pieces[k].record;
          std::memcpy(rec.data() + (pieces[k].start - p.start),
                      batch.data() + (r.payload_offset - p.record.payload_offset), r.payload_size);
        }
      }
      // Runs of non-zero payloads are contiguous in `rec`: one write each.
      uint64_t run_start = p.start, run_end = p.start;
      for (size_t k = i; k <= j; ++k) {
        const RecordMeta& r = pieces[k].record;
        char* data = rec.data() + (pieces[k].start - p.start);
        if (Xxh3(data, r.payload_size) != r.payload_checksum)
          return Status::Corruption(r.segment->path() + " offset " +
                                    std::to_string(r.payload_offset - kRecordHeaderSize) +
                                    ": payload checksum mismatch (seq " + std::to_string(r.seq) +
                                    ")");
        if (IsAllZero(data, r.payload_size)) {  // zeros stay a hole
          if (run_end > run_start)
            LL_RETURN_IF_ERROR(target->WriteAt(run_start, rec.data() + (run_start - p.start),
                                               run_end - run_start));
          run_start = run_end = pieces[k].end;
          continue;
        }
        run_end = pieces[k].end;
      }
      if (run_end > run_start)
        LL_RETURN_IF_ERROR(
            target->WriteAt(run_start, rec.data() + (run_start - p.start), run_end - run_start));
      done->fetch_add(pieces[j].end - p.start, std::memory_order_relaxed);
      i = j;
      continue;
    }
    if (p.from_base) {
      // Only the base's allocated extents hold data; its holes stay holes in the target.
      for (uint64_t pos = p.start; pos < p.end;) {
        LL_ASSIGN_OR_RETURN(auto extent, base_->NextData(pos));
        if (extent.first >= p.end) break;
        uint64_t s = std::max(extent.first, pos), e = std::min(extent.second, p.end);
        LL_RETURN_IF_ERROR(CopyRange(base_.get(), target, s, e, &buf));
        pos = e;
      }
    } else if (p.record.kind == RecordKind::kData) {
      rec.resize(size_t(p.end - p.start));
      LL_RETURN_IF_ERROR(
          ReadRecordRange(p.record, p.start, p.end, reinterpret_cast<uint8_t*>(rec.data())));
      if (!IsAllZero(rec.data(), rec.size()))
        LL_RETURN_IF_ERROR(target->WriteAt(p.start, rec.data(), rec.size()));
    }
    done->fetch_add(p.end - p.start, std::memory_order_relaxed);
  }
  return Status::Ok();
}

// The view is cut into one contiguous share of pieces per worker, balanced by bytes: the
// copies, checksums and page-cache work of a large disk then use every core the host gives,
// where a single copy loop (or `cp`) is bound to one. The shares write disjoint ranges of
// the target, so no ordering between them matters.
Status DiskReplica::Materialize(uint64_t seq, const std::string& target_path,
                                const ProgressFn& progress, bool sync) const {
  std::shared_lock b(base_mu_);
  std::vector<Piece> pieces;
  {
    std::shared_lock l(mu_);
    LL_RETURN_IF_ERROR(CheckReadableSeq(seq));
    pieces = FullViewLocked(seq);
  }
  LL_ASSIGN_OR_RETURN(auto target, fs_->Open(target_path, OpenMode::kTruncate));
  LL_RETURN_IF_ERROR(target->Truncate(size_bytes_));
  const uint64_t share_bytes = std::max<uint64_t>(1, options_.materialize_share_bytes);
  // A base range (after a fold, the whole disk may be one) is cut so that it can be shared.
  const uint64_t base_piece_bytes = std::min<uint64_t>(64u << 20, share_bytes);
  if (std::any_of(pieces.begin(), pieces.end(), [&](const Piece& p) {
        return p.from_base && p.end - p.start > base_piece_bytes;
      })) {
    std::vector<Piece> cut;
    for (const Piece& p : pieces) {
      for (uint64_t s = p.start; s < p.end; s += p.from_base ? base_piece_bytes : p.end - p.start) {
        cut.push_back(p);
        cut.back().start = s;
        if (p.from_base) cut.back().end = std::min(p.end, s + base_piece_bytes);
      }
    }
    pieces = std::move(cut);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t workers = size_t(
      std::clamp<uint64_t>(size_bytes_ / share_bytes, 1, std::min(cores, kMaxMaterializeThreads)));
  std::vector<size_t> cuts{0};
  uint64_t covered = 0;
  for (size_t i = 0; i < pieces.size() && cuts.size() < workers; ++i) {
    covered += pieces[i].end - pieces[i].start;
    if (covered * workers >= cuts.size() * size_bytes_ && i + 1 < pieces.size())
      cuts.push_back(i + 1);
  }
  cuts.push_back(pieces.size());
  std::atomic<uint64_t> done{0};
  std::mutex finished_mu;
  std::condition_variable finished_cv;
  size_t finished = 0;
  std::vector<Status> results(cuts.size() - 1);
  std::vector<std::thread> threads;
  for (size_t w = 0; w + 1 < cuts.size(); ++w)
    threads.emplace_back([&, w] {
      results[w] = MaterializePieces(pieces, cuts[w], cuts[w + 1], target.get(), &done);
      std::lock_guard l(finished_mu);
      ++finished;
      finished_cv.notify_one();
    });
  // This thread only reports progress (the callback need not be thread-safe), and wakes as
  // soon as the last share is done.
  uint64_t last_report = 0;
  for (std::unique_lock l(finished_mu);
       !finished_cv.wait_for(l, std::chrono::milliseconds(20), [&] { return finished == threads.size(); });) {
    uint64_t d = done.load(std::memory_order_relaxed);
    if (progress && d - last_report >= (256u << 20)) {
      l.unlock();
      progress(d, size_bytes_);
      last_report = d;
      l.lock();
    }
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) LL_RETURN_IF_ERROR(s);
  if (sync) LL_RETURN_IF_ERROR(target->Sync());
  if (progress) progress(size_bytes_, size_bytes_);
  return Status::Ok();
}

}  // namespace lifeline::store
