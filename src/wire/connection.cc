#include "wire/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "wire/messages.h"

namespace lifeline::wire {

namespace {
// Per pass, so reads and writes take turns: a busy inbound direction must not delay the
// acks and heartbeats going out (the peer judges our liveness by them).
constexpr size_t kPumpBudgetBytes = 1u << 20;
constexpr int64_t kErrorFlushMs = 500;
// Frames up to this size are copied into one staging buffer of at most kStageBytes and
// written together (4 KiB guest writes: one send() and a few TLS records per 256 KiB
// instead of two of each per frame); larger frames are written in place.
constexpr size_t kStageFrameBytes = 32 * 1024;
constexpr size_t kStageBytes = 256 * 1024;
// Reads: a header or a payload shorter than kDirectReadBytes is read through a read-ahead
// buffer (one read for many small frames), a longer payload straight into the frame.
constexpr size_t kDirectReadBytes = 64 * 1024;
constexpr size_t kReadAheadBytes = 256 * 1024;

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool PeerSilenceIsDeath(int64_t silent_ms, int64_t starved_ms, const ConnectionOptions& options) {
  int64_t allowance =
      std::clamp<int64_t>(starved_ms, 0, std::max<int64_t>(0, options.max_starvation_allowance_ms));
  return silent_ms > options.dead_after_ms + allowance;
}

int64_t ThreadRunQueueWaitNs() {
  int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "<cpu time ns> <run-queue wait ns> <timeslices>"
  char* end = nullptr;
  std::strtoll(buf, &end, 10);
  if (!end || *end != ' ') return -1;
  long long wait = std::strtoll(end + 1, nullptr, 10);
  return wait >= 0 ? int64_t(wait) : -1;
}

Connection::Connection(std::unique_ptr<Channel> channel, ConnectionOptions options)
    : channel_(std::move(channel)),
      options_(options),
      peer_identity_(channel_->PeerIdentity()),
      peer_address_(PeerAddress(channel_->fd())),
      decoder_(options.max_payload_bytes) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {  // out of descriptors: a failed connection, not a crash
    status_ = Status::FromErrno(errno, "eventfd for connection to " + peer_address_);
    ended_ = true;
    return;
  }
  last_rx_ms_ = last_tx_ms_ = MonotonicMs();
  thread_ = std::thread([this] { Run(); });
}

Connection::~Connection() {
  Abort();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Connection::Join() {
  // Close() and Abort() may race (a handler closing while the server stops): one joins.
  std::lock_guard<std::mutex> l(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void Connection::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

Status Connection::Send(OutFrame frame, int64_t timeout_ms) {
  size_t size = frame.size();
  std::unique_lock<std::mutex> l(mu_);
  auto ready = [&] {
    return ended_ || closing_ || aborting_ || !status_.ok() || out_bytes_ == 0 ||
           out_bytes_ + size <= options_.max_outbound_bytes;
  };
  if (timeout_ms < 0) {
    out_cv_.wait(l, ready);
  } else if (!out_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), ready)) {
    return Status::Busy("send queue full for " + std::to_string(timeout_ms) + " ms");
  }
  if (!status_.ok()) return status_;
  if (ended_ || closing_ || aborting_) return Status::FailedPrecondition("connection is closed");
  bool was_empty = out_queue_.empty();
  if (was_empty) out_first_ns_ = MonotonicNs();
  const bool urgent = options_.coalesce_us > 0 && frame.type() != FrameType::kWrite;
  if (urgent) out_urgent_ = true;
  const bool crossed = options_.coalesce_us > 0 && out_bytes_ < options_.coalesce_bytes &&
                       out_bytes_ + size >= options_.coalesce_bytes;
  out_bytes_ += size;
  out_queue_.push_back(std::move(frame));
  l.unlock();
  // The first frame wakes the I/O thread (it starts its hold timer); with coalescing, so
  // does the one that fills a batch.
  if (was_empty || crossed || urgent) Wake();
  return Status::Ok();
}

Result<std::optional<Frame>> Connection::Receive(int64_t timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  auto ready = [&] { return !in_queue_.empty() || ended_ || !status_.ok(); };
  if (timeout_ms < 0) {
    in_cv_.wait(l, ready);
  } else if (!in_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), ready)) {
    return std::optional<Frame>();
  }
  if (!in_queue_.empty()) {
    Frame f = std::move(in_queue_.front());
    in_queue_.pop_front();
    bool was_full = in_bytes_ >= options_.max_inbound_bytes;
    in_bytes_ -= f.payload.size() + kFrameHeaderBytes;
    bool now_room = in_bytes_ < options_.max_inbound_bytes;
    l.unlock();
    if (was_full && now_room) Wake();
    return std::optional<Frame>(std::move(f));
  }
  if (!status_.ok()) return status_;
  return Status::IOError("connection closed");
}

void Connection::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    out_cv_.notify_all();
  }
  Wake();
  Join();
}

void Connection::CloseWithError(const Status& reason) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!ended_ && !closing_) {
      OutFrame f = Encode(ErrorMsg::FromStatus(reason));
      out_bytes_ += f.size();
      out_queue_.push_back(std::move(f));
    }
  }
  Close();
}

void Connection::Abort() {
  {
    std::lock_guard<std::mutex> l(mu_);
    aborting_ = true;
    out_cv_.notify_all();
  }
  Wake();
  Join();
}

bool Connection::alive() const {
  std::lock_guard<std::mutex> l(mu_);
  return !ended_ && status_.ok();
}

Status Connection::status() const {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

ConnectionStats Connection::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void Connection::Fail(Status s) {
  std::lock_guard<std::mutex> l(mu_);
  if (status_.ok()) status_ = std::move(s);
  in_cv_.notify_all();
  out_cv_.notify_all();
}

void Connection::QueueHeartbeat(int64_t now_ms) {
  (void)now_ms;
  Heartbeat hb;
  hb.send_time_ns = MonotonicNs();
  hb.echo_time_ns = peer_heartbeat_ns_;
  OutFrame f = Encode(hb);
  std::lock_guard<std::mutex> l(mu_);
  if (options_.coalesce_us > 0) out_urgent_ = true;  // never held
  out_bytes_ += f.size();
  out_queue_.push_back(std::move(f));
}

int64_t Connection::HoldLeftNsLocked(int64_t now_ns) const {
  if (options_.coalesce_us <= 0 || out_queue_.empty() || out_urgent_ || !staged_.empty() ||
      write_piece_ || write_offset_ || closing_ || out_bytes_ >= options_.coalesce_bytes ||
      channel_->HasPendingOutput())
    return 0;
  return std::max<int64_t>(0, out_first_ns_ + options_.coalesce_us * 1000 - now_ns);
}

bool Connection::PumpReads(int64_t now_ms, bool* more) {
  size_t budget = kPumpBudgetBytes;
  read_blocked_on_write_ = false;
  while (budget > 0) {
    MutableByteSpan buf = decoder_.Next();
    size_t n;
    if (read_pos_ < read_len_) {  // bytes read ahead
      n = std::min(buf.size(), read_len_ - read_pos_);
      std::memcpy(buf.data(), read_buf_.data() + read_pos_, n);
      read_pos_ += n;
    } else {
      // A header or a small payload: read ahead as much as the socket has (one read for
      // many small frames); a large payload: straight into the frame.
      const bool direct = buf.size() >= kDirectReadBytes;
      if (!direct && read_buf_.empty()) read_buf_.resize(kReadAheadBytes);
      IoResult r =
          channel_->Read(direct ? buf : MutableByteSpan(read_buf_.data(), read_buf_.size()));
      switch (r.state) {
        case IoState::kOk:
          break;
        case IoState::kWantRead:
          return true;
        case IoState::kWantWrite:
          read_blocked_on_write_ = true;
          return true;
        case IoState::kEof:
          if (decoder_.at_frame_boundary())
            Fail(Status::IOError("peer " + peer_address_ + " closed the connection"));
          else
            Fail(Status::Corruption("peer " + peer_address_ +
                                    " closed the connection inside a frame"));
          return false;
        case IoState::kError:
          Fail(Status::IOError("reading from " + peer_address_ + ": " + channel_->LastError()));
          return false;
      }
      last_rx_ms_ = now_ms;
      if (now_ms - rq_sample_ms_ >= 100) {  // at most 10 /proc reads a second
        rq_wait_at_rx_ns_ = ThreadRunQueueWaitNs();
        rq_sample_ms_ = now_ms;
      }
      budget -= std::min(budget, r.bytes);
      if (!direct) {
        read_pos_ = 0;
        read_len_ = r.bytes;
        continue;
      }
      n = r.bytes;
    }
    Result<bool> complete = decoder_.Advance(n);
    if (!complete.ok()) {
      Status s = complete.status();
      log::Warn("wire", "malformed frame from " + peer_address_ + ", closing: " + s.ToString());
      // Tell the peer why, after the frame being written (if any), then give up.
      {
        std::lock_guard<std::mutex> l(mu_);
        while (out_queue_.size() > (write_piece_ || write_offset_ ? 1u : 0u)) {
          out_bytes_ -= out_queue_.back().size();
          out_queue_.pop_back();
        }
        OutFrame f = Encode(ErrorMsg::FromStatus(s));
        out_bytes_ += f.size();
        out_queue_.push_back(std::move(f));
      }
      int64_t deadline = MonotonicMs() + kErrorFlushMs;
      bool more_w = true;
      while (MonotonicMs() < deadline) {
        if (!PumpWrites(MonotonicMs(), &more_w)) break;
        {
          std::lock_guard<std::mutex> l(mu_);
          if (out_queue_.empty() && staged_.empty() && !channel_->HasPendingOutput()) break;
        }
        WaitFd(channel_->fd(), true, deadline - MonotonicMs());
      }
      Fail(s);
      return false;
    }
    if (!*complete) continue;
    Frame f = decoder_.TakeFrame();
    if (f.type == FrameType::kHeartbeat) {
      Result<Heartbeat> hb = DecodeHeartbeat(f);
      if (!hb.ok()) {
        log::Warn("wire", "malformed heartbeat from " + peer_address_ +
                              ", closing: " + hb.status().ToString());
        Fail(hb.status());
        return false;
      }
      std::lock_guard<std::mutex> l(mu_);
      stats_.bytes_received += f.payload.size() + kFrameHeaderBytes;
      stats_.frames_received++;
      stats_.heartbeats_received++;
      peer_heartbeat_ns_ = hb->send_time_ns;
      if (hb->echo_time_ns > 0) stats_.rtt_us = (MonotonicNs() - hb->echo_time_ns) / 1000;
      continue;
    }
    std::lock_guard<std::mutex> l(mu_);
    stats_.bytes_received += f.payload.size() + kFrameHeaderBytes;
    stats_.frames_received++;
    in_bytes_ += f.payload.size() + kFrameHeaderBytes;
    in_queue_.push_back(std::move(f));
    in_cv_.notify_one();
    if (in_bytes_ >= options_.max_inbound_bytes) return true;  // back-pressure
  }
  *more = true;
  return true;
}

bool Connection::WritePiece(std::string_view piece, size_t* offset, size_t* budget, int64_t now_ms,
                            bool* stop) {
  auto* p = reinterpret_cast<const uint8_t*>(piece.data()) + *offset;
  IoResult r = channel_->Write(ByteSpan(p, piece.size() - *offset));
  switch (r.state) {
    case IoState::kOk:
      break;
    case IoState::kWantWrite:
      write_blocked_ = true;
      return false;
    case IoState::kWantRead:
      return false;
    case IoState::kEof:
    case IoState::kError:
      Fail(Status::IOError("writing to " + peer_address_ + ": " + channel_->LastError()));
      *stop = true;
      return false;
  }
  *offset += r.bytes;
  *budget -= std::min(*budget, r.bytes);
  last_tx_ms_ = now_ms;
  return true;
}

bool Connection::PumpWrites(int64_t now_ms, bool* more) {
  size_t budget = kPumpBudgetBytes;
  write_blocked_ = false;
  bool stop = false;
  while (budget > 0) {
    // Small frames staged together go out first, whole.
    if (!staged_.empty()) {
      if (staged_sent_ < staged_.size() &&
          !WritePiece(staged_, &staged_sent_, &budget, now_ms, &stop))
        return !stop;
      if (staged_sent_ < staged_.size()) continue;
      std::lock_guard<std::mutex> l(mu_);
      stats_.bytes_sent += staged_.size();
      stats_.frames_sent += staged_frames_;
      staged_.clear();
      staged_sent_ = 0;
      staged_frames_ = 0;
      continue;
    }
    OutFrame* f = nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!out_queue_.empty()) {
        f = &out_queue_.front();  // stable: only this thread pops, push_back keeps references
        if (write_piece_ == 0 && write_offset_ == 0 && f->size() <= kStageFrameBytes) {
          // Copy the run of small frames at the head of the queue into one buffer: one
          // write (one TLS record per 16 KiB, one send) for many frames instead of two
          // writes per frame. Large frames are written from their own buffers.
          while (!out_queue_.empty() && out_queue_.front().size() <= kStageFrameBytes &&
                 staged_.size() + out_queue_.front().size() <= kStageBytes) {
            const OutFrame& small = out_queue_.front();
            staged_ += small.head;
            if (small.data) staged_ += *small.data;
            out_bytes_ -= small.size();
            ++staged_frames_;
            out_queue_.pop_front();
          }
          if (out_queue_.empty()) out_urgent_ = false;
          out_cv_.notify_all();
          continue;
        }
      }
    }
    if (!f) {
      // Queue empty: push out what the channel still buffers (TLS records).
      if (!channel_->HasPendingOutput()) return true;
      IoResult r = channel_->Flush();
      if (r.state == IoState::kError) {
        Fail(Status::IOError("writing to " + peer_address_ + ": " + channel_->LastError()));
        return false;
      }
      if (r.bytes) last_tx_ms_ = now_ms;
      if (r.state == IoState::kWantWrite) write_blocked_ = true;
      return true;
    }
    std::string_view piece = write_piece_ == 0 ? std::string_view(f->head)
                             : f->data         ? std::string_view(*f->data)
                                               : std::string_view();
    if (write_offset_ < piece.size()) {
      if (!WritePiece(piece, &write_offset_, &budget, now_ms, &stop)) return !stop;
      if (write_offset_ < piece.size()) continue;
    }
    write_offset_ = 0;
    if (write_piece_ == 0) {
      write_piece_ = 1;
      continue;
    }
    write_piece_ = 0;
    std::lock_guard<std::mutex> l(mu_);
    stats_.bytes_sent += f->size();
    stats_.frames_sent++;
    out_bytes_ -= f->size();
    out_queue_.pop_front();
    if (out_queue_.empty()) out_urgent_ = false;
    out_cv_.notify_all();
  }
  *more = true;
  return true;
}

void SetCurrentThreadNice(int nice) {
  if (nice <= 0) return;
  if (nice >= 20) {  // idle class: runs only when nothing else wants the CPU
    sched_param param{};
    (void)::sched_setscheduler(0, SCHED_IDLE, &param);
    return;
  }
  (void)::setpriority(PRIO_PROCESS, id_t(::syscall(SYS_gettid)), nice);
}

void Connection::Run() {
  ::pthread_setname_np(::pthread_self(), "repl-io");
  SetCurrentThreadNice(options_.cpu_nice);
  int64_t flush_deadline = -1;
  bool graceful = false;
  rq_wait_at_rx_ns_ = ThreadRunQueueWaitNs();  // per thread: sampled on this one
  rq_sample_ms_ = MonotonicMs();
  for (;;) {
    int64_t now = MonotonicMs();
    bool has_out, can_read, closing;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (aborting_ || !status_.ok()) break;
      closing = closing_;
      if (closing) {
        if (flush_deadline < 0) flush_deadline = now + options_.close_flush_ms;
        if ((out_queue_.empty() && staged_.empty() && !channel_->HasPendingOutput()) ||
            now >= flush_deadline) {
          graceful = true;
          break;
        }
      }
      has_out = !out_queue_.empty() || !staged_.empty() || channel_->HasPendingOutput();
      can_read = in_bytes_ < options_.max_inbound_bytes;
    }
    bool more = false;
    if (can_read || read_blocked_on_write_) {
      if (!PumpReads(now, &more)) break;
    }
    // Judged after reading what already arrived, so that this thread being descheduled
    // is not mistaken for the peer's silence. Our own back-pressure is not silence either:
    // the clock restarts while we do not read.
    bool tolerating = false;
    if (!can_read) {
      last_rx_ms_ = now;
    } else if (now - last_rx_ms_ > options_.dead_after_ms) {
      int64_t rq_now = ThreadRunQueueWaitNs();
      int64_t starved_ms =
          (rq_now >= 0 && rq_wait_at_rx_ns_ >= 0) ? (rq_now - rq_wait_at_rx_ns_) / 1'000'000 : 0;
      if (PeerSilenceIsDeath(now - last_rx_ms_, starved_ms, options_)) {
        Fail(Status::IOError("no data from " + peer_address_ + " for " +
                             std::to_string(now - last_rx_ms_) +
                             " ms (heartbeat timeout): the path is down or the peer hung" +
                             (starved_ms > 0 ? " (this host kept the connection off the CPU for " +
                                                   std::to_string(starved_ms) + " ms)"
                                             : "")));
        break;
      }
      tolerating = true;  // the host is starved: give the peer the time we lost ourselves
    }
    if (!has_out && !closing && now - last_tx_ms_ >= options_.heartbeat_interval_ms) {
      QueueHeartbeat(now);
      has_out = true;
    }
    int64_t hold_ns = 0;
    if (has_out) {
      if (options_.coalesce_us > 0) {
        std::lock_guard<std::mutex> l(mu_);
        hold_ns = HoldLeftNsLocked(MonotonicNs());
      }
      if (hold_ns > 0) write_blocked_ = false;  // nothing written: wait for time, not room
      if (hold_ns == 0 && !PumpWrites(now, &more)) break;
    }
    if (more) continue;

    bool out_pending;
    {
      std::lock_guard<std::mutex> l(mu_);
      out_pending = !out_queue_.empty() || !staged_.empty() || channel_->HasPendingOutput();
    }
    pollfd fds[2];
    fds[0] = {channel_->fd(), 0, 0};
    if (can_read) fds[0].events |= POLLIN;
    if ((out_pending && write_blocked_) || read_blocked_on_write_) fds[0].events |= POLLOUT;
    fds[1] = {wake_fd_, POLLIN, 0};
    int64_t timeout = options_.heartbeat_interval_ms;
    if (!out_pending)
      timeout = std::max<int64_t>(0, last_tx_ms_ + options_.heartbeat_interval_ms - now);
    if (can_read)
      timeout = tolerating
                    ? std::min<int64_t>(timeout, 20)
                    : std::min(timeout, std::max<int64_t>(
                                            0, last_rx_ms_ + options_.dead_after_ms + 1 - now));
    if (flush_deadline >= 0)
      timeout = std::min(timeout, std::max<int64_t>(0, flush_deadline - now));
    // Writes that did not block but left frames queued (new ones arrived): loop at once,
    // or when the frames are held for coalescing, when their hold ends.
    int64_t timeout_ns = timeout * 1'000'000;
    if (out_pending && !write_blocked_) timeout_ns = std::min(timeout_ns, hold_ns);
    timespec ts{time_t(timeout_ns / 1'000'000'000), long(timeout_ns % 1'000'000'000)};
    int r = ::ppoll(fds, 2, &ts, nullptr);
    if (r > 0 && (fds[1].revents & POLLIN)) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
    }
  }
  if (graceful) channel_->Shutdown();
  std::lock_guard<std::mutex> l(mu_);
  ended_ = true;
  if (status_.ok()) status_ = Status::IOError("connection closed");
  in_cv_.notify_all();
  out_cv_.notify_all();
}

}  // namespace lifeline::wire
