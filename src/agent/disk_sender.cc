#include "agent/disk_sender.h"

#include <random>

#include "common/log.h"
#include "wire/streams.h"

namespace lifeline::agent {

namespace {
constexpr char kLog[] = "agent";
// Refusals that retrying cannot fix until an operator acts; the sender keeps retrying
// slowly but reports them.
bool IsFatal(Code c) {
  return c == Code::kUnauthenticated || c == Code::kFailedPrecondition || c == Code::kInvalidArgument ||
         c == Code::kNotFound;
}
}  // namespace

DiskSender::DiskSender(SenderOptions options) : options_(std::move(options)) {}

DiskSender::~DiskSender() { Stop(); }

Result<uint64_t> DiskSender::Start(int64_t timeout_ms) {
  LL_RETURN_IF_ERROR(wire::ValidateStreamCount(options_.streams));
  if (options_.vaults.empty()) return Status::InvalidArgument("no vault address configured");
  {
    std::lock_guard l(mu_);
    if (started_) return Status::FailedPrecondition("sender already started");
    started_ = true;
  }
  supervisor_ = std::thread([this] { Supervise(); });
  std::unique_lock l(mu_);
  bool done = cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                           [&] { return connected_ || !fatal_.ok() || stop_; });
  if (connected_) return acked_seq_.load();
  if (!fatal_.ok()) return fatal_;
  if (!done) return Status::Busy("could not reach a vault within " + std::to_string(timeout_ms) + " ms: " +
                                 stats_.last_error);
  return Status::Busy("sender stopped");
}

void DiskSender::Stop() {
  {
    std::lock_guard l(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  TearDown();
}

Status DiskSender::fatal_error() const {
  std::lock_guard l(mu_);
  return fatal_;
}

void DiskSender::Supervise() {
  wire::Reconnector reconnector(options_.vaults.size(),
                                wire::Backoff(options_.backoff_initial_ms, options_.backoff_max_ms));
  for (;;) {
    {
      std::lock_guard l(mu_);
      if (stop_) return;
    }
    size_t index = reconnector.current();
    Status s = Connect(index);
    if (s.ok()) {
      reconnector.OnConnected();
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return broken_ || stop_; });
      if (stop_) return;
      l.unlock();
      TearDown();
      log::Warn(kLog, options_.disk_id + ": replication path lost (" + stats().last_error + "); reconnecting");
    } else {
      std::lock_guard l(mu_);
      stats_.last_error = options_.vaults[index].ToString() + ": " + s.ToString();
      if (IsFatal(s.code())) {
        if (fatal_.ok()) log::Error(kLog, options_.disk_id + ": vault refused replication: " + s.ToString());
        fatal_ = s;
      }
      cv_.notify_all();
    }
    auto attempt = reconnector.OnFailure();
    std::unique_lock l(mu_);
    stats_.reconnects++;
    cv_.wait_for(l, std::chrono::milliseconds(attempt.delay_ms), [&] { return stop_; });
  }
}

Status DiskSender::Connect(size_t vault_index) {
  const wire::Endpoint& ep = options_.vaults[vault_index];
  uint64_t session_id = std::random_device{}() | (uint64_t(std::random_device{}()) << 32);
  std::vector<std::shared_ptr<wire::Connection>> streams;
  uint64_t durable = 0;
  uint64_t acked, next;
  {
    std::lock_guard l(mu_);
    acked = acked_seq_.load();
    next = window_.empty() ? submitted_seq_ + 1 : window_.front().seq;
  }
  for (int i = 0; i < options_.streams; ++i) {
    LL_ASSIGN_OR_RETURN(auto conn, wire::Connect(ep, options_.tls, options_.connect));
    std::shared_ptr<wire::Connection> c = std::move(conn);
    wire::Hello hello;
    hello.stream_index = uint16_t(i);
    hello.stream_count = uint16_t(options_.streams);
    hello.agent_id = options_.agent_id;
    hello.machine = options_.machine;
    hello.disk_id = options_.disk_id;
    hello.disk_size_bytes = options_.disk_size_bytes;
    hello.session_id = session_id;
    hello.acked_seq = acked;
    hello.next_seq = next;
    LL_RETURN_IF_ERROR(c->Send(wire::Encode(hello), 5000));
    LL_ASSIGN_OR_RETURN(auto reply, c->Receive(options_.connect.handshake_timeout_ms));
    if (!reply) return Status::IOError("no answer to HELLO from " + ep.ToString());
    if (reply->type == wire::FrameType::kError) {
      LL_ASSIGN_OR_RETURN(auto e, wire::DecodeError(*reply));
      return e.ToStatus();
    }
    LL_ASSIGN_OR_RETURN(auto ok, wire::DecodeHelloOk(*reply));
    durable = std::max(durable, ok.durable_seq);
    streams.push_back(std::move(c));
  }
  std::vector<Item> resend;
  std::vector<wire::PointMsg> points;
  {
    std::lock_guard l(mu_);
    session_.id = session_id;
    session_.streams = streams;
    connected_ = true;
    broken_ = false;
    fatal_ = Status::Ok();
    stats_.vault = ep.ToString();
    if (submitted_seq_ == 0 && window_.empty()) submitted_seq_ = durable;
    for (auto& c : streams)
      session_.readers.emplace_back([this, c, session_id] { ReaderLoop(c, session_id); });
  }
  OnAck(durable);
  {
    std::lock_guard l(mu_);
    resend.assign(window_.begin(), window_.end());
    for (const auto& [seq, p] : pending_points_) points.push_back(p);
    stats_.resent_frames += resend.size();
  }
  cv_.notify_all();
  log::Info(kLog, options_.disk_id + ": connected to " + ep.ToString() + " with " + std::to_string(options_.streams) +
                      " streams; vault durable seq " + std::to_string(durable) + ", resending " +
                      std::to_string(resend.size()) + " writes");
  for (const auto& item : resend)
    if (!SendItem(item).ok()) break;
  for (const auto& p : points) (void)streams[0]->Send(wire::Encode(p), 5000);
  return Status::Ok();
}

void DiskSender::ReaderLoop(std::shared_ptr<wire::Connection> conn, uint64_t session_id) {
  for (;;) {
    auto frame = conn->Receive(-1);
    Status err;
    if (!frame.ok()) {
      err = frame.status();
    } else if (*frame) {
      const wire::Frame& f = **frame;
      if (f.type == wire::FrameType::kAck) {
        auto ack = wire::DecodeAck(f);
        if (!ack.ok()) err = ack.status();
        else if (f.flags & wire::kAckFlagPointRecorded) {
          std::lock_guard l(mu_);
          pending_points_.erase(ack->durable_seq);
          cv_.notify_all();
        } else {
          OnAck(ack->durable_seq);
        }
      } else if (f.type == wire::FrameType::kHashReply) {
        auto reply = wire::DecodeHashReply(f);
        if (!reply.ok()) err = reply.status();
        else {
          std::lock_guard l(mu_);
          replies_[reply->request_id] = std::move(*reply);
          cv_.notify_all();
        }
      } else if (f.type == wire::FrameType::kGroupHold || f.type == wire::FrameType::kGroupRelease) {
        err = OnGroupFrame(f, *conn);
      } else if (f.type == wire::FrameType::kError) {
        auto e = wire::DecodeError(f);
        err = e.ok() ? e->ToStatus() : e.status();
      } else {
        err = Status::InvalidArgument("unexpected frame from the vault");
      }
    }
    if (!err.ok()) {
      std::lock_guard l(mu_);
      if (session_.id == session_id) {
        // The first error names the cause; the other streams then only see their close.
        if (!broken_) stats_.last_error = err.ToString();
        broken_ = true;
        if (IsFatal(err.code())) fatal_ = err;
      }
      cv_.notify_all();
      return;
    }
  }
}

void DiskSender::SetGroupHoldHandler(GroupHoldHandler handler) {
  std::lock_guard l(group_mu_);
  group_ = std::move(handler);
}

Status DiskSender::OnGroupFrame(const wire::Frame& f, wire::Connection& conn) {
  if (f.type == wire::FrameType::kGroupHold) {
    LL_ASSIGN_OR_RETURN(auto hold, wire::DecodeGroupHold(f));
    wire::GroupHeld held;
    {
      std::lock_guard l(group_mu_);
      if (group_.hold) {
        held = group_.hold(hold);
      } else {
        held.reason = "disk " + options_.disk_id + " is not in nbd capture mode";
      }
    }
    held.hold_id = hold.hold_id;
    (void)conn.Send(wire::Encode(held), 1000);  // a lost reply makes the vault abort the point
    return Status::Ok();
  }
  LL_ASSIGN_OR_RETURN(auto release, wire::DecodeGroupRelease(f));
  wire::GroupReleased released;
  {
    std::lock_guard l(group_mu_);
    if (group_.release) released = group_.release(release);
  }
  released.hold_id = release.hold_id;
  (void)conn.Send(wire::Encode(released), 1000);
  return Status::Ok();
}

void DiskSender::TearDown() {
  Session old;
  {
    std::lock_guard l(mu_);
    old = std::move(session_);
    session_ = Session{};
    connected_ = false;
  }
  for (auto& c : old.streams) c->Abort();
  for (auto& t : old.readers)
    if (t.joinable()) t.join();
}

void DiskSender::OnAck(uint64_t durable) {
  std::lock_guard l(mu_);
  if (durable <= acked_seq_.load()) return;
  acked_seq_ = durable;
  while (!window_.empty() && window_.front().seq <= durable) {
    window_bytes_ -= window_.front().frame.size();
    window_.pop_front();
  }
  stats_.acked_seq = durable;
  cv_.notify_all();
}

Status DiskSender::SendItem(const Item& item) {
  std::shared_ptr<wire::Connection> conn;
  {
    std::lock_guard l(mu_);
    if (!connected_ || session_.streams.empty()) return Status::IOError("not connected");
    conn = session_.streams[item.seq % session_.streams.size()];
  }
  wire::AcquireBandwidth({options_.disk_limit, options_.agent_limit}, item.frame.size());
  Status s = conn->Send(item.frame, -1);
  std::lock_guard l(mu_);
  if (!s.ok()) {
    if (!broken_) stats_.last_error = s.ToString();
    broken_ = true;
    cv_.notify_all();
  } else {
    stats_.bytes_sent += item.frame.size();
  }
  return s;
}

Status DiskSender::Submit(uint64_t seq, wire::OutFrame frame, uint64_t raw_bytes) {
  Item item{seq, std::move(frame)};
  bool connected;
  {
    std::unique_lock l(mu_);
    if (stop_) return Status::FailedPrecondition("sender stopped");
    if (seq != submitted_seq_ + 1)
      return Status::InvalidArgument("seq " + std::to_string(seq) + " submitted after " + std::to_string(submitted_seq_));
    // Back-pressure: the window is bounded; capture waits (or, in nbd mode, spills).
    cv_.wait(l, [&] { return stop_ || window_.empty() || window_bytes_ + item.frame.size() <= options_.max_window_bytes; });
    if (stop_) return Status::FailedPrecondition("sender stopped");
    window_.push_back(item);
    window_bytes_ += item.frame.size();
    submitted_seq_ = seq;
    stats_.raw_bytes_submitted += raw_bytes;
    connected = connected_;
  }
  if (connected) (void)SendItem(item);  // a failure is handled by reconnect + resend
  return Status::Ok();
}

Status DiskSender::SubmitData(uint64_t seq, uint64_t offset, std::shared_ptr<const std::string> data, int64_t time_ns) {
  if (!data || data->empty() || data->size() > wire::kMaxWriteDataBytes)
    return Status::InvalidArgument("write data must be 1 byte to 4 MiB");
  uint64_t raw = data->size();
  return Submit(seq, wire::BuildWrite(seq, offset, std::move(data), options_.codec, time_ns), raw);
}

Status DiskSender::SubmitZero(uint64_t seq, uint64_t offset, uint64_t length, wire::WriteKind kind, int64_t time_ns) {
  wire::WriteMsg m;
  m.seq = seq;
  m.offset = offset;
  m.length = length;
  m.kind = kind;
  m.source_time_ns = time_ns;
  LL_RETURN_IF_ERROR(wire::ValidateWrite(m));
  return Submit(seq, wire::Encode(m), length);
}

Status DiskSender::SubmitPoint(const wire::PointMsg& point) {
  std::shared_ptr<wire::Connection> conn;
  {
    std::lock_guard l(mu_);
    if (point.seq > submitted_seq_) return Status::InvalidArgument("point after the last submitted seq");
    pending_points_[point.seq] = point;
    if (connected_ && !session_.streams.empty()) conn = session_.streams[0];
  }
  if (conn) (void)conn->Send(wire::Encode(point), 5000);
  return Status::Ok();
}

Status DiskSender::WaitAcked(uint64_t seq, int64_t timeout_ms) {
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return stop_ || acked_seq_.load() >= seq; }))
    return Status::Busy("seq " + std::to_string(seq) + " not acknowledged within " + std::to_string(timeout_ms) +
                        " ms (acknowledged " + std::to_string(acked_seq_.load()) + "; " + stats_.last_error + ")");
  return stop_ && acked_seq_.load() < seq ? Status::FailedPrecondition("sender stopped") : Status::Ok();
}

Status DiskSender::WaitPointConfirmed(uint64_t seq, int64_t timeout_ms) {
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return stop_ || !pending_points_.count(seq); }))
    return Status::Busy("point at seq " + std::to_string(seq) + " not confirmed within " + std::to_string(timeout_ms) + " ms");
  return Status::Ok();
}

Result<std::vector<uint64_t>> DiskSender::ReplicaHashes(uint32_t block_size, uint64_t first_block, uint32_t count,
                                                       int64_t timeout_ms) {
  std::shared_ptr<wire::Connection> conn;
  wire::HashRequest req;
  {
    std::lock_guard l(mu_);
    if (!connected_) return Status::IOError("not connected");
    conn = session_.streams[0];
    req.request_id = next_request_id_++;
  }
  req.block_size = block_size;
  req.first_block = first_block;
  req.block_count = count;
  LL_RETURN_IF_ERROR(conn->Send(wire::Encode(req), timeout_ms));
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return stop_ || broken_ || replies_.count(req.request_id); }))
    return Status::Busy("no hash reply within " + std::to_string(timeout_ms) + " ms");
  auto it = replies_.find(req.request_id);
  if (it == replies_.end()) return Status::IOError("connection lost while waiting for hashes");
  auto hashes = std::move(it->second.hashes);
  replies_.erase(it);
  return hashes;
}

SenderStats DiskSender::stats() const {
  std::lock_guard l(mu_);
  SenderStats s = stats_;
  s.connected = connected_;
  s.acked_seq = acked_seq_.load();
  s.submitted_seq = submitted_seq_;
  s.window_bytes = window_bytes_;
  return s;
}

}  // namespace lifeline::agent
