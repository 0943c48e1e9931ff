// NbdCapture: NBD server + capture stream + sender thread for one disk. See nbd_capture.h.
#include "agent/nbd_capture.h"

#include <pthread.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "agent/scan_capture.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "nbd/file_backend.h"
#include "nbd/protocol.h"

namespace lifeline::agent {

namespace {
constexpr char kLog[] = "capture";
int64_t MonoMs() { return Clock::System()->MonotonicNanos() / 1000000; }
// During a resync the bitmap is persisted every 250 ms, plus 250 ms per 64 Ki blocks so a
// huge disk's bitmap (1 byte per block) never costs more than about 256 KiB/s of writes.
int64_t ResyncPersistMs(uint64_t disk_bytes, uint32_t block_bytes) {
  return 250 + int64_t(disk_bytes / block_bytes / 65536) * 250;
}
}  // namespace

NbdCapture::NbdCapture(NbdCaptureOptions options, DiskSender* sender)
    : options_(std::move(options)), sender_(sender) {}

NbdCapture::~NbdCapture() { Stop(); }

// State file (text, one key=value a line): initial_complete=1 once the replica holds the
// whole disk; initial_started=1 once the initial copy's dirty bitmap is on disk (from then
// on the bitmap file says what the copy still has to send: a restart resumes from it);
// initial_blocks=N, the blocks the copy started with (for its percent); resync_epoch=N, the
// vault's whole-disk resync request the current copy answers (NbdCaptureOptions);
// hash_resync=1 while a resync by block hashes runs, with compare_next_block=N: the blocks
// below N are compared and those that differ are in the dirty bitmap file (persisted
// first), so a restart compares only from N on.
Status NbdCapture::LoadState() {
  std::string path = options_.state_dir + "/capture.state";
  if (!FileSystem::Posix()->Exists(path)) return Status::Ok();
  LL_ASSIGN_OR_RETURN(std::string raw, ReadWholeFile(FileSystem::Posix(), path, 4096));
  initial_complete_ = raw.find("initial_complete=1") != std::string::npos;
  initial_started_ = raw.find("initial_started=1") != std::string::npos;
  auto pos = raw.find("initial_blocks=");
  if (pos != std::string::npos) initial_blocks_ = std::strtoull(raw.c_str() + pos + 15, nullptr, 10);
  pos = raw.find("resync_epoch=");
  if (pos != std::string::npos) resync_epoch_ = std::strtoull(raw.c_str() + pos + 13, nullptr, 10);
  hash_resync_ = raw.find("hash_resync=1") != std::string::npos;
  pos = raw.find("compare_next_block=");
  if (pos != std::string::npos)
    compare_next_block_ = std::strtoull(raw.c_str() + pos + 19, nullptr, 10);
  return Status::Ok();
}

Status NbdCapture::SaveState() {
  FileSystem* fs = FileSystem::Posix();
  std::string path = options_.state_dir + "/capture.state";
  std::string body = std::string("initial_complete=") + (initial_complete_ ? "1" : "0") + "\n" +
                     "initial_started=" + (initial_started_ ? "1" : "0") + "\n" +
                     "initial_blocks=" + std::to_string(initial_blocks_.load()) + "\n" +
                     "resync_epoch=" + std::to_string(resync_epoch_) + "\n" +
                     "hash_resync=" + (hash_resync_ ? "1" : "0") + "\n" +
                     "compare_next_block=" + std::to_string(compare_next_block_) + "\n";
  {
    LL_ASSIGN_OR_RETURN(auto f, fs->Open(path + ".tmp", OpenMode::kTruncate));
    LL_RETURN_IF_ERROR(f->WriteAt(0, body.data(), body.size()));
    LL_RETURN_IF_ERROR(f->Sync());
  }
  LL_RETURN_IF_ERROR(fs->Rename(path + ".tmp", path));
  return fs->SyncDir(options_.state_dir);
}

Status NbdCapture::Start(uint64_t first_seq) {
  if (first_seq == 0) return Status::InvalidArgument("first seq must be at least 1");
  LL_ASSIGN_OR_RETURN(auto file, nbd::FileBackend::Open(options_.disk_path, false));
  image_ = std::shared_ptr<nbd::Backend>(std::move(file));
  CaptureQueueOptions qo = options_.queue;
  qo.state_dir = options_.state_dir;
  qo.keep_data = sender_ != nullptr;  // replication off: number writes, copy nothing
  if (!options_.state_dir.empty()) {
    LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(options_.state_dir));
    LL_RETURN_IF_ERROR(LoadState());
  } else {
    qo.max_spill_bytes = 0;
  }
  queue_ = std::make_unique<CaptureQueue>(qo, image_->size(), first_seq);
  LL_RETURN_IF_ERROR(queue_->Open());
  if (options_.fenced) (void)queue_->Fence();
  {
    std::lock_guard l(warning_mu_);
    last_warning_ = queue_->open_warning();
  }
  // The vault's replica is not the one this state describes (it holds nothing although the
  // state says the copy is complete, or the vault says it was created anew): copy again.
  const bool replaced =
      sender_ && (options_.replica_replaced || (first_seq == 1 && initial_complete_));
  if (replaced) {
    log::Info(kLog, options_.disk_path + ": a new replica at the vault: copying the disk again");
    initial_complete_ = false;
    initial_started_ = false;
  }
  // A new resync request from the vault: the disk changed behind the agent's back, so the
  // replica's content is not this disk's and the bitmap cannot say where they differ. A
  // replaced replica that is not empty (kept files) may hold other data in the holes too.
  const bool epoch_resync =
      sender_ && ((options_.resync_epoch != 0 && options_.resync_epoch != resync_epoch_) ||
                  (replaced && first_seq > 1));
  if (epoch_resync) {
    log::Info(kLog,
              options_.disk_path +
                  (replaced ? ": the new replica may hold other data"
                            : ": the vault asks for a whole-disk resync (the disk was written "
                              "outside this agent, e.g. by a failback)") +
                  ": comparing block hashes with the replica");
    initial_complete_ = false;
    initial_started_ = false;
    hash_resync_ = true;
    compare_next_block_ = 0;
    resync_epoch_ = options_.resync_epoch;
  }
  const bool bitmap_ok = queue_->loaded_bitmap() && queue_->open_warning().empty();
  bool resume = sender_ && !initial_complete_ && initial_started_ && bitmap_ok;
  if (resume) {
    // An interrupted initial copy or resync: the bitmap file holds every block not yet
    // acknowledged by the vault (persisted during the copy), so only those are sent again.
    log::Info(kLog, options_.disk_path + ": resuming the " +
                        (hash_resync_ ? "resync" : "initial copy") + ", " +
                        std::to_string(queue_->stats().dirty_blocks) + " blocks left");
    if (hash_resync_) BeginHashResync(UINT64_MAX);  // nothing left to compare
  } else if (sender_ && !initial_complete_ && (hash_resync_ || first_seq > 1) &&
             queue_->open_warning().empty()) {
    // The replica holds an older state of this disk (a resync request after a failback, or
    // this agent lost its state while the vault kept the replica): compare block hashes and
    // send only the blocks that differ. An interrupted comparison resumes from its persisted
    // position when the bitmap file holding what it found is valid, else starts over.
    BeginHashResync(hash_resync_ && bitmap_ok ? compare_next_block_ : 0);
    if (!options_.state_dir.empty()) LL_RETURN_IF_ERROR(SaveState());
  } else if (sender_ && !initial_complete_) {
    // The replica lacks this disk: copy every allocated block as a resync, while the VM
    // already runs. Holes need nothing when the replica is new (it reads as zeros); when it
    // holds data (here only after a damaged state file, which marked every block already)
    // holes are copied too.
    hash_resync_ = false;
    const bool replica_new = first_seq == 1;
    nbd::Backend* img = image_.get();
    queue_->MarkAllDirty([img, replica_new](uint64_t off, uint64_t len) {
      if (!replica_new) return false;
      std::vector<nbd::Extent> ext;
      if (!img->BlockStatus(off, len, 64, &ext).ok()) return false;
      uint64_t covered = 0;
      for (const auto& e : ext) {
        if (!(e.flags & nbd::kStateZero)) return false;
        covered += e.length;
      }
      return covered >= len;
    });
    initial_blocks_ = queue_->stats().dirty_blocks;
    if (!options_.state_dir.empty()) {
      // From here a restart resumes from the bitmap file instead of starting over.
      LL_RETURN_IF_ERROR(queue_->Persist());
      initial_started_ = true;
      LL_RETURN_IF_ERROR(SaveState());
    }
  } else if (!sender_) {
    initial_complete_ = true;
    hash_resync_ = false;  // replication off: nothing to compare with
  }
  backend_ = std::make_shared<CaptureBackend>(image_, queue_.get());
  nbd::Export e;
  e.name = options_.export_name;
  e.description = "lifeline protected disk " + options_.disk_path;
  e.backend = backend_;
  LL_RETURN_IF_ERROR(registry_.Add(std::move(e)));
  nbd::ServerOptions so;
  so.threads_per_connection = options_.threads_per_connection;
  server_ = std::make_unique<nbd::Server>(&registry_, so);
  LL_RETURN_IF_ERROR(server_->ListenTcp(options_.listen_host, options_.listen_port));
  if (!options_.unix_path.empty()) LL_RETURN_IF_ERROR(server_->ListenUnix(options_.unix_path));
  LL_RETURN_IF_ERROR(server_->Start());
  std::string host = options_.listen_host.find(':') != std::string::npos ? "[" + options_.listen_host + "]"
                                                                          : options_.listen_host;
  url_ = "nbd://" + host + ":" + std::to_string(server_->tcp_port());
  if (!options_.export_name.empty()) url_ += "/" + options_.export_name;
  if (sender_) {
    CaptureQueue* q = queue_.get();
    GroupHoldHandler h;
    h.hold = [q, this](const wire::GroupHold& m) {
      wire::GroupHeld held;
      int64_t deadline = Clock::System()->MonotonicNanos() + int64_t(m.max_hold_ms) * 1'000'000;
      auto seq = q->HoldForGroup(m.hold_id, deadline);
      held.time_ns = Clock::System()->NowUnixNanos();
      if (!seq.ok()) {
        held.reason = options_.disk_path + ": " + seq.status().message();
        return held;
      }
      held.ok = true;
      held.seq = *seq;
      return held;
    };
    h.release = [q](const wire::GroupRelease& m) {
      wire::GroupReleased r;
      r.held = q->ReleaseGroup(m.hold_id, &r.held_us);
      return r;
    };
    sender_->SetGroupHoldHandler(std::move(h));
  }
  first_seq_ = first_seq;
  submitted_seq_ = first_seq - 1;
  local_acked_ = first_seq - 1;
  stop_ = false;
  sender_thread_ = std::thread([this] { SenderLoop(); });
  if (options_.app_point_interval_ms > 0) app_thread_ = std::thread([this] { AppPointLoop(); });
  started_ = true;
  log::Info(kLog, options_.disk_path + " served at " + url_);
  return Status::Ok();
}

void NbdCapture::Stop() {
  if (!started_) return;
  started_ = false;
  if (sender_) sender_->SetGroupHoldHandler({});
  if (server_) server_->Stop();  // no more writes
  stop_ = true;
  queue_->Close();
  if (sender_) sender_->Stop();  // a sender blocked on a full window returns
  if (sender_thread_.joinable()) sender_thread_.join();
  if (app_thread_.joinable()) app_thread_.join();  // a running hook ends within its timeout
  const uint64_t compared = compare_ ? compare_->progress().next_block : 0;
  // The vault's last acknowledgement may have come after the sender thread's last look:
  // what it covers needs no resync at the next start.
  queue_->Ack(sender_ ? sender_->acked_seq() : local_acked_.load());
  Status s = queue_->Persist();  // whatever the vault has not acknowledged resyncs next time
  if (!s.ok()) log::Error(kLog, "persist dirty bitmap: " + s.ToString());
  if (s.ok() && compare_ && !options_.state_dir.empty()) {
    // The bitmap just written holds every block found different below this position.
    compare_next_block_ = compared;
    s = SaveState();
    if (!s.ok()) log::Error(kLog, "save capture state: " + s.ToString());
  }
}

Status NbdCapture::Submit(const CaptureRecord& r) {
  if (r.type == CaptureRecord::Type::kPoint) {
    points_++;
    last_point_seq_ = r.seq;
    if (!sender_) return Status::Ok();
    wire::PointMsg p;
    p.seq = r.seq;
    p.kind = r.point_kind;
    p.time_ns = r.time_ns;
    p.label = r.label;
    p.group_id = r.group_id;
    return sender_->SubmitPoint(p);
  }
  if (!sender_) {
    submitted_seq_ = r.last_seq();
    local_acked_ = r.last_seq();
    return Status::Ok();
  }
  const uint64_t piece = r.kind == wire::WriteKind::kData ? options_.queue.max_data_piece_bytes
                                                          : options_.queue.max_zero_piece_bytes;
  for (uint32_t i = 0; i < r.pieces; ++i) {
    uint64_t off = uint64_t(i) * piece;
    uint64_t len = std::min<uint64_t>(piece, r.length - off);
    if (r.kind == wire::WriteKind::kData) {
      auto data = r.pieces == 1 ? r.data : std::make_shared<const std::string>(r.data->substr(off, len));
      LL_RETURN_IF_ERROR(sender_->SubmitData(r.seq + i, r.offset + off, std::move(data), r.time_ns));
    } else {
      LL_RETURN_IF_ERROR(sender_->SubmitZero(r.seq + i, r.offset + off, len, r.kind, r.time_ns));
    }
    submitted_seq_ = r.seq + i;
  }
  return Status::Ok();
}

void NbdCapture::SenderLoop() {
  ::pthread_setname_np(::pthread_self(), "capture-send");
  wire::SetCurrentThreadNice(options_.replication_nice);
  int64_t last_point_ms = MonoMs();
  int64_t last_persist_ms = MonoMs();
  const int64_t persist_ms = ResyncPersistMs(image_->size(), options_.queue.block_bytes);
  bool resyncing = queue_->stats().dirty_blocks > 0 || !initial_complete_;
  auto read = [this](uint64_t off, MutableByteSpan out) { return image_->Read(off, out); };
  while (!stop_) {
    queue_->Ack(sender_ ? sender_->acked_seq() : local_acked_.load());
    if (resyncing && MonoMs() - last_persist_ms >= persist_ms) {
      // During a resync (the initial copy included) the bitmap file shrinks as the vault
      // acknowledges: a restart resends only what is left. During a comparison it also
      // records how far the comparison got (after the bitmap that holds what it found).
      last_persist_ms = MonoMs();
      const uint64_t compared = compare_ ? compare_->progress().next_block : 0;
      Status s = queue_->Persist();
      if (!s.ok()) log::Error(kLog, "persist dirty bitmap: " + s.ToString());
      if (s.ok() && compare_ && compared > compare_next_block_ && !options_.state_dir.empty()) {
        compare_next_block_ = compared;
        s = SaveState();
        if (!s.ok()) log::Error(kLog, "save capture state: " + s.ToString());
      }
    }
    // A comparison step that moved on makes the hand-off below not wait for records, so
    // the next step follows at once; a failed one (the vault unreachable) waits as usual.
    const bool compared_now = compare_ && CompareStep();
    auto step = queue_->ResyncStep(read, options_.resync_chunk_blocks);
    if (!step.ok()) log::Error(kLog, "resync read: " + step.status().ToString());
    if (step.ok() && *step) resyncing = true;
    // Hand on what is queued, a bounded batch at a time, then look at the state: a steady
    // stream of writes (more often than the pop timeout) must not keep this loop from
    // ending a resync or taking its points.
    CaptureRecord r;
    bool popped = false;
    for (int i = 0; i < 256 && !stop_ && queue_->Pop(&r, popped || compared_now ? 0 : 20); ++i) {
      popped = true;
      Status s = Submit(r);
      if (!s.ok()) {
        if (stop_) break;
        log::Error(kLog, "submit seq " + std::to_string(r.seq) + ": " + s.ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        break;
      }
    }
    if (stop_) break;
    CaptureQueueStats qs = queue_->stats();
    bool dirty = qs.dirty_blocks > 0 || qs.state == CaptureState::kBitmap || compare_ != nullptr;
    if (dirty) {
      resyncing = true;
      continue;
    }
    if (resyncing) {
      // The stream is a disk state again: mark it with a point.
      std::string label = initial_complete_ || hash_resync_ ? "resync" : "initial-replication";
      // Nothing written at all: the empty replica already is the disk.
      bool nothing = qs.last_seq < first_seq_;
      if (nothing || queue_->RecordPoint(wire::PointKind::kCrash, label, "", 0) != 0) {
        resyncing = false;
        last_point_ms = MonoMs();
        if (hash_resync_) EndHashResync();
        if (!initial_complete_) {
          initial_complete_ = true;
          if (!options_.state_dir.empty()) {
            Status s = SaveState();
            if (!s.ok()) log::Error(kLog, "save capture state: " + s.ToString());
          }
        }
      }
      continue;
    }
    if (options_.point_interval_ms > 0 && MonoMs() - last_point_ms >= options_.point_interval_ms) {
      last_point_ms = MonoMs();
      if (qs.last_seq > last_point_seq_) queue_->RecordPoint(wire::PointKind::kCrash, "", "", 0);
      Status s = queue_->Persist();  // lets acknowledged blocks leave the bitmap file
      if (!s.ok()) log::Error(kLog, "persist dirty bitmap: " + s.ToString());
    }
  }
}

Result<uint64_t> NbdCapture::TakePoint(wire::PointKind kind, const std::string& label, const std::string& group_id,
                                       int64_t time_ns) {
  uint64_t seq = queue_->RecordPoint(kind, label, group_id, time_ns);
  if (seq == 0) return Status::FailedPrecondition("no point possible now: the disk is resyncing or has no writes");
  return seq;
}

Status NbdCapture::RunHook(const char* which, const std::string& command) {
  std::string output;
  Status s = RunShellHook(command, options_.hook_timeout_ms,
                          {{"LIFELINE_DISK_PATH", options_.disk_path}, {"LIFELINE_HOOK", which}}, &output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  std::string line = options_.disk_path + ": " + which + " hook" + (s.ok() ? "" : " failed: " + s.message());
  if (!output.empty()) line += "; output: " + output;
  if (s.ok()) log::Info(kLog, line);
  else log::Warn(kLog, line);
  return s.ok() ? s : s.WithContext(std::string(which) + " hook");
}

Result<uint64_t> NbdCapture::TakeAppPoint(const std::string& label) {
  if (!options_.pre_hook.empty()) LL_RETURN_IF_ERROR(RunHook("pre", options_.pre_hook));
  // Writes the application completed before the freeze are in the stream now.
  auto point = TakePoint(wire::PointKind::kApp, label);
  if (point.ok()) app_points_++;
  if (!options_.post_hook.empty()) {
    Status s = RunHook("post", options_.post_hook);
    if (!s.ok() && point.ok()) return s;
  }
  return point;
}

Result<uint64_t> NbdCapture::TakeScheduledAppPoint() {
  auto point = TakeAppPoint("scheduled");
  std::lock_guard l(warning_mu_);
  if (point.ok()) {
    last_warning_.clear();
    return point;
  }
  if (point.status().message().find("hook") == std::string::npos) {
    // No point possible now (resyncing): not the hooks' fault; the next interval retries.
    last_warning_ = "app-consistent point skipped: " + point.status().message();
    log::Warn(kLog, options_.disk_path + ": " + last_warning_);
    return point;
  }
  // A hook failed: the application may not be quiesced, but the data is still worth a
  // point; take a crash-consistent one so the schedule keeps its recovery points.
  app_fallbacks_++;
  last_warning_ = "app-consistent point failed (" + point.status().message() + "); took a crash-consistent point";
  log::Warn(kLog, options_.disk_path + ": " + last_warning_);
  return TakePoint(wire::PointKind::kCrash, "app-hook-failed");
}

void NbdCapture::AppPointLoop() {
  int64_t next_ms = MonoMs() + options_.app_point_interval_ms;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (MonoMs() < next_ms) continue;
    next_ms = MonoMs() + options_.app_point_interval_ms;
    if (!initial_complete_) continue;  // the replica is not a disk state yet
    (void)TakeScheduledAppPoint();
  }
}

Status NbdCapture::WaitCaughtUp(int64_t timeout_ms) {
  int64_t deadline = MonoMs() + timeout_ms;
  while (MonoMs() < deadline) {
    CaptureQueueStats qs = queue_->stats();
    uint64_t acked = sender_ ? sender_->acked_seq() : local_acked_.load();
    if (qs.dirty_blocks == 0 && qs.state != CaptureState::kBitmap && acked >= qs.last_seq &&
        (sender_ == nullptr || initial_complete_ || qs.last_seq == 0))
      return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Busy("capture did not catch up in " + std::to_string(timeout_ms) + " ms");
}

Result<uint64_t> NbdCapture::TakeDrainPoint() {
  CaptureQueueStats qs = queue_->stats();
  uint64_t acked = sender_ ? sender_->acked_seq() : local_acked_.load();
  if (qs.dirty_blocks > 0 || qs.state == CaptureState::kBitmap || acked < qs.last_seq ||
      !initial_complete_)
    return Status::Busy(
        "still sending: " + std::to_string(qs.last_seq - std::min(acked, qs.last_seq)) +
        " writes and " + std::to_string(qs.dirty_blocks) + " dirty blocks");
  if (qs.last_seq == 0)
    return uint64_t{0};  // nothing was ever written: the empty replica is the disk
  uint64_t seq = queue_->RecordPoint(wire::PointKind::kCrash, "planned failover", "", 0);
  if (seq == 0) return Status::Busy("no point possible yet");
  return seq;
}

NbdCaptureStats NbdCapture::stats() const {
  NbdCaptureStats s;
  s.url = url_;
  if (!queue_) return s;
  s.queue = queue_->stats();
  s.acked_seq = sender_ ? sender_->acked_seq() : local_acked_.load();
  s.points = points_;
  s.last_point_seq = last_point_seq_;
  if (s.queue.oldest_unacked_ns) s.lag_ms = std::max<int64_t>(0, (Clock::System()->NowUnixNanos() - s.queue.oldest_unacked_ns) / 1000000);
  s.initial_complete = initial_complete_;
  s.initial_blocks = initial_blocks_;
  s.replicating = sender_ != nullptr;
  s.app_points = app_points_;
  s.app_fallbacks = app_fallbacks_;
  s.hash_resync = hash_resync_;
  {
    std::lock_guard l(resync_mu_);
    s.hash_resync_done = hash_resync_done_;
    s.compare = resync_progress_;
    s.resync_bytes =
        (hash_resync_done_ ? resync_bytes_end_ : s.queue.resync_bytes) - resync_bytes_start_;
    s.resync_seconds =
        double((hash_resync_done_ ? resync_end_ms_ : MonoMs()) - resync_start_ms_) / 1000.0;
  }
  std::lock_guard l(warning_mu_);
  s.last_warning = last_warning_;
  return s;
}

void RunNbdAssignment(const std::string& assignment_json, const std::string& state_dir,
                      DiskSender* sender, uint64_t durable_seq, const std::atomic<bool>& stop,
                      const std::atomic<uint64_t>& drain_request,
                      const std::function<void(const std::string&)>& report) {
  using json = nlohmann::json;
  json a = json::parse(assignment_json, nullptr, false);
  json capture = a.is_object() ? a.value("capture", json::object()) : json::object();
  NbdCaptureOptions o;
  o.disk_path = a.value("path", "");
  o.state_dir = state_dir;
  std::string listen = capture.value("nbd_listen", "127.0.0.1:0");
  auto ep = wire::Endpoint::ParseListen(listen);  // port 0: any free port
  if (!ep.ok()) {
    report(json{{"phase", "error"}, {"last_error", "nbd_listen " + listen + ": " + ep.status().ToString()}}.dump());
    return;
  }
  o.listen_host = ep->host;
  o.listen_port = ep->port;
  o.point_interval_ms = std::max<int64_t>(1, capture.value("point_interval_s", int64_t(5))) * 1000;
  o.pre_hook = a.value("pre_hook", "");
  o.post_hook = a.value("post_hook", "");
  o.app_point_interval_ms = std::max<int64_t>(0, a.value("app_interval_s", int64_t(0))) * 1000;
  o.queue.max_spill_bytes = capture.value("max_spill_bytes", uint64_t(1) << 30);
  if (capture.contains("resync_epoch") && capture["resync_epoch"].is_number_unsigned())
    o.resync_epoch = capture["resync_epoch"].get<uint64_t>();
  o.replica_replaced = a.value("replica_replaced", false);
  uint64_t fenced_for = drain_request.load();  // the drain request the fence answers
  o.fenced = fenced_for != 0;
  NbdCapture nc(o, sender);
  Status s = nc.Start(durable_seq + 1);
  if (!s.ok()) {
    report(json{{"phase", "error"}, {"last_error", s.ToString()}}.dump());
    return;
  }
  uint64_t initial_dirty = std::max<uint64_t>({uint64_t(1), nc.stats().initial_blocks, nc.stats().queue.dirty_blocks});
  bool drained = false;
  uint64_t drained_seq = 0;
  while (!stop) {
    // Planned failover: fence, send what is queued, final point; a lifted request unfences.
    if (uint64_t want = drain_request.load(); want != fenced_for) {
      if (want == 0) {
        nc.Unfence();
        log::Info(kLog,
                  o.disk_path +
                      ": drain request lifted (failover cancelled): the disk takes writes again");
      } else {
        uint64_t seq = nc.Fence();
        log::Info(kLog, o.disk_path + ": planned failover: writes refused after seq " +
                            std::to_string(seq) + "; sending what is queued");
      }
      fenced_for = want;
      drained = false;
    }
    if (fenced_for != 0 && !drained) {
      auto point = nc.TakeDrainPoint();
      if (point.ok()) {
        drained = true;
        drained_seq = *point;
        log::Info(kLog, o.disk_path + ": drained at seq " + std::to_string(drained_seq));
      }
    }
    json drain = fenced_for == 0 ? json(nullptr)
                                 : json{{"request", fenced_for},
                                        {"state", drained ? "drained" : "draining"},
                                        {"seq", drained_seq}};
    NbdCaptureStats st = nc.stats();
    SenderStats ss = sender->stats();
    bool caught_up = st.acked_seq >= st.queue.last_seq && st.queue.dirty_blocks == 0;
    std::string phase = !st.initial_complete ? "initial-replication"
                        : st.queue.state != CaptureState::kStreaming ? CaptureStateName(st.queue.state)
                        : caught_up ? "idle"
                                    : "streaming";
    if (st.hash_resync) phase = "resync";
    double percent = st.initial_complete ? 100.0 : 100.0 * (1.0 - double(st.queue.dirty_blocks) / double(initial_dirty));
    if (st.hash_resync) {
      // Compared and not waiting to be sent, of every block.
      uint64_t done =
          st.compare.next_block - std::min(st.compare.next_block, st.queue.dirty_blocks);
      percent = 100.0 * double(done) / double(std::max<uint64_t>(1, st.compare.blocks_total));
    }
    json resync = json::object();
    if (st.hash_resync || st.hash_resync_done)
      resync = {{"phase", "resync"},
                {"blocks_total", st.compare.blocks_total},
                {"blocks_compared", st.compare.blocks_compared},
                {"blocks_changed", st.compare.blocks_changed},
                {"bytes_sent", st.resync_bytes},
                {"seconds", st.resync_seconds}};
    std::string error = ss.last_error;
    Status fatal = sender->fatal_error();
    if (!fatal.ok()) error = fatal.ToString();
    report(json{{"phase", phase},
                {"mode", "nbd"},
                {"percent", percent},
                {"initial_complete", st.initial_complete},
                {"nbd_url", st.url},
                {"capture_state", CaptureStateName(st.queue.state)},
                {"lag_ms", st.lag_ms},
                {"last_seq", st.queue.last_seq},
                {"acked_seq", st.acked_seq},
                {"points", st.points},
                {"app_points", st.app_points},
                {"app_fallbacks", st.app_fallbacks},
                {"last_warning", st.last_warning},
                {"memory_bytes", st.queue.memory_bytes},
                {"spill_bytes", st.queue.spill_bytes},
                {"dirty_blocks", st.queue.dirty_blocks},
                {"connected", ss.connected},
                {"bytes_on_wire", ss.bytes_sent},
                {"resync", resync},
                {"sync", st.hash_resync_done ? resync : json::object()},
                {"last_error", ss.connected ? std::string() : error},
                {"drain", drain}}
               .dump());
    // While draining, look again soon: the vault waits for the answer.
    const int ticks = fenced_for != 0 && !drained ? 1 : 10;
    for (int i = 0; i < ticks && !stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (drain_request.load() != fenced_for) break;
    }
  }
  nc.Stop();
}

}  // namespace lifeline::agent
