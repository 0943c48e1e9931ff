#include "vault/disk_sink.h"

#include <pthread.h>

#include <chrono>

#include "common/log.h"
#include "wire/connection.h"

namespace lifeline::vault {

namespace {
constexpr char kLog[] = "vault";
store::RecordKind ToRecordKind(wire::WriteKind k) {
  switch (k) {
    case wire::WriteKind::kData: return store::RecordKind::kData;
    case wire::WriteKind::kZero: return store::RecordKind::kZero;
    case wire::WriteKind::kTrim: return store::RecordKind::kTrim;
  }
  return store::RecordKind::kData;
}
store::PointKind ToPointKind(wire::PointKind k) {
  switch (k) {
    case wire::PointKind::kCrash: return store::PointKind::kCrash;
    case wire::PointKind::kApp: return store::PointKind::kApp;
    case wire::PointKind::kGroup: return store::PointKind::kGroup;
    case wire::PointKind::kUser: return store::PointKind::kUser;
  }
  return store::PointKind::kCrash;
}
}  // namespace

DiskSink::DiskSink(store::DiskReplica* replica, uint64_t max_buffer_bytes, int cpu_nice)
    : replica_(replica), max_buffer_bytes_(max_buffer_bytes) {
  appended_seq_ = replica_->appended_seq();
  acked_seq_ = replica_->durable_seq();
  commit_thread_ = std::thread([this, cpu_nice] {
    ::pthread_setname_np(::pthread_self(), "sink-commit");
    wire::SetCurrentThreadNice(cpu_nice);
    CommitLoop();
  });
}

DiskSink::~DiskSink() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  commit_cv_.notify_all();
  room_cv_.notify_all();
  durable_cv_.notify_all();
  commit_thread_.join();
}

Result<uint64_t> DiskSink::Join(uint64_t session_id, wire::Connection* conn) {
  std::unique_lock l(mu_);
  if (session_id != session_id_) {
    // A new session replaces the old one: its buffered writes will be resent from the
    // agent's window if they matter, and seqs restart after the durable one.
    session_id_ = session_id;
    reorder_.clear();
    buffered_bytes_ = 0;
    room_cv_.notify_all();
  }
  conns_.insert(conn);
  stats_.session_id = session_id;
  // Everything appended becomes durable before we tell the agent where to resume, so no
  // appended-but-not-durable seq can later be confused with a new write of the same seq.
  auto durable = replica_->Sync();
  if (!durable.ok()) return durable.status();
  acked_seq_ = std::max(acked_seq_, *durable);
  return *durable;
}

void DiskSink::AbortStreams() {
  std::lock_guard l(mu_);
  // Under mu_: a connection leaves (and may be destroyed) only after Leave takes it.
  for (auto* c : conns_) c->Abort();
  room_cv_.notify_all();
}

void DiskSink::Leave(wire::Connection* conn) {
  std::lock_guard l(mu_);
  conns_.erase(conn);
}

Status DiskSink::Offer(uint64_t session_id, const wire::WriteMsg& msg, std::string&& frame_payload) {
  std::unique_lock l(mu_);
  if (session_id != session_id_) return Status::FailedPrecondition("a newer session of this disk replaced this one");
  stats_.records_received++;
  stats_.bytes_received += msg.data.size();
  stats_.last_write_unix_ns = Clock::System()->NowUnixNanos();
  if (msg.seq <= appended_seq_ || reorder_.count(msg.seq)) {
    stats_.duplicates_ignored++;
    return Status::Ok();
  }
  // Bounded reorder buffer: wait for room, except for the very next seq, which always fits
  // (it is what unblocks everyone else).
  while (!stop_ && session_id == session_id_ && msg.seq != appended_seq_ + 1 &&
         buffered_bytes_ + frame_payload.size() > max_buffer_bytes_)
    room_cv_.wait_for(l, std::chrono::milliseconds(100));
  if (stop_) return Status::Busy("vault shutting down");
  if (session_id != session_id_) return Status::FailedPrecondition("a newer session of this disk replaced this one");
  // The decoded message points into the frame's payload: keep them together.
  size_t data_offset = msg.data.empty() ? 0 : size_t(msg.data.data() - frame_payload.data());
  Pending p{msg, std::move(frame_payload)};
  if (!msg.data.empty()) p.msg.data = std::string_view(p.payload.data() + data_offset, msg.data.size());
  buffered_bytes_ += p.payload.size();
  reorder_.emplace(msg.seq, std::move(p));
  DrainLocked();
  return Status::Ok();
}

void DiskSink::DrainLocked() {
  while (!reorder_.empty() && reorder_.begin()->first == appended_seq_ + 1) {
    auto& p = reorder_.begin()->second;
    store::WriteRecord r;
    r.seq = p.msg.seq;
    r.offset = p.msg.offset;
    r.length = uint32_t(p.msg.length);
    r.kind = ToRecordKind(p.msg.kind);
    r.codec = p.msg.codec;
    r.payload = p.msg.data;
    r.time_unix_ns = p.msg.source_time_ns;
    r.data_hash = p.msg.raw_xxh3;
    Status s = replica_->Append(r);
    if (!s.ok()) {
      // Keep the write; the commit loop retries. Nothing is acknowledged past it.
      if (stats_.condition.empty()) log::Error(kLog, replica_->disk_id() + ": holding writes: " + s.ToString());
      stats_.condition = (s.code() == Code::kNoSpace ? "vault disk full: " : "cannot store writes: ") + s.message();
      commit_cv_.notify_all();
      return;
    }
    if (!stats_.condition.empty()) {
      log::Info(kLog, replica_->disk_id() + ": storing writes again");
      stats_.condition.clear();
    }
    appended_seq_ = r.seq;
    buffered_bytes_ -= p.payload.size();
    reorder_.erase(reorder_.begin());
  }
  room_cv_.notify_all();
  commit_cv_.notify_all();
}

void DiskSink::CommitLoop() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (!stats_.condition.empty()) {
      // Holding writes (disk full): retry twice a second, without spinning on the lock.
      commit_cv_.wait_for(l, std::chrono::milliseconds(500), [&] { return stop_; });
      if (stop_) break;
      DrainLocked();
    } else {
      commit_cv_.wait_for(l, std::chrono::milliseconds(50),
                          [&] { return stop_ || appended_seq_ > acked_seq_ || !stats_.condition.empty(); });
    }
    if (stop_) break;
    if (appended_seq_ <= acked_seq_) continue;
    // Group commit outside the lock: offers keep appending meanwhile.
    l.unlock();
    auto durable = replica_->Sync();
    l.lock();
    if (!durable.ok()) {
      stats_.condition = "cannot make writes durable: " + durable.status().message();
      continue;
    }
    if (*durable <= acked_seq_) continue;
    acked_seq_ = *durable;
    durable_cv_.notify_all();
    for (auto* c : conns_) (void)c->Send(wire::Encode(wire::Ack{acked_seq_}), 1000);
  }
}

Status DiskSink::AddPoint(const wire::PointMsg& point, wire::Connection* conn, int64_t timeout_ms) {
  {
    std::unique_lock l(mu_);
    if (!durable_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                              [&] { return stop_ || acked_seq_ >= point.seq; }))
      return Status::Busy("point at seq " + std::to_string(point.seq) + " did not become durable in time");
    if (stop_) return Status::Busy("vault shutting down");
  }
  {
    std::lock_guard l(mu_);
    stats_.points_received++;  // a drain sees an idle cycle's point, which the store dedups
    stats_.newest_point_time_ns = std::max(stats_.newest_point_time_ns, point.time_ns);
  }
  auto kind = ToPointKind(point.kind);
  bool exists = false;
  for (const auto& p : replica_->Points())
    exists |= p.seq == point.seq && p.kind == kind && p.label == point.label && p.group_id == point.group_id;
  if (!exists) {
    store::PointRequest req;
    req.seq = point.seq;
    req.kind = kind;
    req.label = point.label;
    req.group_id = point.group_id;
    req.time_unix_ns = point.time_ns;
    LL_RETURN_IF_ERROR(replica_->AddPoint(req).status());
  }
  return conn->Send(wire::EncodePointRecorded(point.seq), 5000);
}

SinkStats DiskSink::stats() const {
  std::lock_guard l(mu_);
  SinkStats s = stats_;
  s.streams = int(conns_.size());
  s.durable_seq = acked_seq_;
  s.appended_seq = appended_seq_;
  s.buffered_bytes = buffered_bytes_;
  return s;
}

Status DiskSink::SendControl(const wire::OutFrame& frame, int64_t timeout_ms) {
  std::lock_guard l(mu_);
  if (conns_.empty()) return Status::IOError("the agent of disk " + replica_->disk_id() + " is not connected");
  return (*conns_.begin())->Send(frame, timeout_ms);
}

void DiskSink::OnGroupHeld(const wire::GroupHeld& m) {
  std::lock_guard l(mu_);
  if (held_.size() >= kMaxAnswers) held_.erase(held_.begin());
  held_[m.hold_id] = m;
  group_cv_.notify_all();
}

void DiskSink::OnGroupReleased(const wire::GroupReleased& m) {
  std::lock_guard l(mu_);
  if (released_.size() >= kMaxAnswers) released_.erase(released_.begin());
  released_[m.hold_id] = m;
  group_cv_.notify_all();
}

namespace {
template <typename T>
std::optional<T> TakeAnswer(std::mutex& mu, std::condition_variable& cv, std::map<uint64_t, T>& answers,
                            uint64_t id, int64_t deadline_mono_ns) {
  std::unique_lock l(mu);
  for (;;) {
    auto it = answers.find(id);
    if (it != answers.end()) {
      T out = std::move(it->second);
      answers.erase(it);
      return out;
    }
    int64_t left = deadline_mono_ns - Clock::System()->MonotonicNanos();
    if (left <= 0) return std::nullopt;
    cv.wait_for(l, std::chrono::nanoseconds(left));
  }
}
}  // namespace

std::optional<wire::GroupHeld> DiskSink::TakeGroupHeld(uint64_t hold_id, int64_t deadline_mono_ns) {
  return TakeAnswer(mu_, group_cv_, held_, hold_id, deadline_mono_ns);
}

std::optional<wire::GroupReleased> DiskSink::TakeGroupReleased(uint64_t hold_id, int64_t deadline_mono_ns) {
  return TakeAnswer(mu_, group_cv_, released_, hold_id, deadline_mono_ns);
}

}  // namespace lifeline::vault
