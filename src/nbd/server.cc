// Server and per-connection driver; see server.h. The Session decides, this file only
// moves bytes: a connection's workers share one read lock (framing) and one write lock
// (replies), and execute requests concurrently between the two.
#include "nbd/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <condition_variable>
#include <cstring>

#include "common/log.h"
#include "nbd/executor.h"
#include "nbd/protocol.h"
#include "nbd/stream.h"
#include "nbd/tls_stream.h"

namespace lifeline::nbd {
namespace {

// Socket reads: while requests are small, one big read carries many of them (fewer
// syscalls). Once writes are large, reads shrink so most of each payload arrives by a
// direct read into its own buffer (PayloadSink) instead of a copy out of this one.
constexpr size_t kReadBufferBytes = 256 << 10;
constexpr size_t kSmallReadBytes = 16 << 10;
constexpr uint32_t kLargeWriteBytes = 32 << 10;
constexpr size_t kDirectPayloadBytes = 16 << 10;

}  // namespace

class Server::Connection {
 public:
  Connection(std::unique_ptr<SocketStream> socket, const ExportRegistry* registry,
             const ServerOptions& options, BufferPool* pool)
      : options_(options),
        session_(SessionConfig{registry, options.limits, options.tls != nullptr,
                               options.tls_required, pool}),
        socket_(std::move(socket)),
        stream_(socket_.get()),
        rbuf_(new uint8_t[kReadBufferBytes]) {}

  void Start() {
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "nbd-conn");
      Run();
      done_ = true;
    });
  }
  // Unblocks every thread of this connection; Join() then returns soon.
  void Shutdown() { socket_->Shutdown(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }

 private:
  void Run();
  bool Handshake();
  void Worker();
  bool FillBuffer();
  bool SendAll(const iovec* iov, int count);
  bool SendReply(Reply reply);

  const ServerOptions& options_;
  Session session_;
  std::unique_ptr<SocketStream> socket_;
  std::unique_ptr<Stream> tls_;  // set once STARTTLS succeeded
  Stream* stream_;               // tls_ if set, else socket_
  std::unique_ptr<uint8_t[]> rbuf_;
  size_t rpos_ = 0, rlen_ = 0;
  std::thread thread_;
  std::atomic<bool> done_{false};

  std::mutex read_mu_;   // guards session_, rbuf_, stream reads
  // Replies queue here; whichever worker finds no sender running becomes the sender and
  // writes everything queued in one writev, so concurrent completions share a syscall
  // (and the client a wakeup). Bounded: workers wait while the queue is full.
  std::mutex write_mu_;  // guards queue_, queued_bytes_, sending_
  std::condition_variable queue_space_;
  std::vector<Reply> queue_;
  size_t queued_bytes_ = 0;
  bool sending_ = false;
  bool read_failed_ = false;           // under read_mu_
  bool large_writes_ = false;          // under read_mu_: the last WRITE was large
  std::atomic<bool> write_failed_{false};
  ExecContext exec_;
};

bool Server::Connection::SendAll(const iovec* iov, int count) {
  if (write_failed_) return false;
  Status s = stream_->Write(iov, count);
  if (!s.ok()) {
    log::Info("nbd", "send failed: " + s.ToString());
    write_failed_ = true;
    socket_->Shutdown();
    return false;
  }
  return true;
}

// REQUIRES: read_mu_ held (or handshake, single-threaded).
bool Server::Connection::FillBuffer() {
  if (read_failed_) return false;
  size_t want = large_writes_ ? kSmallReadBytes : kReadBufferBytes;
  Result<size_t> n = stream_->Read(MutableByteSpan(rbuf_.get(), want));
  if (!n.ok() || *n == 0) {
    if (!n.ok()) log::Info("nbd", "receive failed: " + n.status().ToString());
    read_failed_ = true;
    return false;
  }
  rpos_ = 0;
  rlen_ = *n;
  return true;
}

bool Server::Connection::Handshake() {
  session_.Start();
  for (;;) {
    if (session_.HasOutput()) {
      std::string out = session_.TakeOutput();
      iovec iov{out.data(), out.size()};
      if (!SendAll(&iov, 1)) return false;
    }
    switch (session_.phase()) {
      case Session::Phase::kTransmission: return true;
      case Session::Phase::kClosed: return false;
      case Session::Phase::kStartTls: {
        // The client waits for our ACK before its TLS hello: leftover bytes are an error.
        if (rpos_ != rlen_ || !options_.tls) return false;
        auto tls = options_.tls->Accept(socket_.get());
        if (!tls.ok()) {
          log::Info("nbd", "TLS handshake failed: " + tls.status().ToString());
          return false;
        }
        tls_ = std::move(*tls);
        stream_ = tls_.get();
        session_.TlsEstablished();
        continue;
      }
      case Session::Phase::kHandshake: break;
    }
    if (rpos_ == rlen_ && !FillBuffer()) return false;
    rpos_ += session_.Feed(ByteSpan(rbuf_.get() + rpos_, rlen_ - rpos_));
  }
}

void Server::Connection::Worker() {
  for (;;) {
    Request req;
    {
      std::lock_guard lock(read_mu_);
      while (!session_.HasRequest()) {
        if (session_.phase() != Session::Phase::kTransmission || write_failed_) return;
        if (rpos_ == rlen_) {
          // A large WRITE payload goes straight from the socket into its buffer.
          MutableByteSpan sink = session_.PayloadSink();
          if (sink.size() >= kDirectPayloadBytes) {
            Result<size_t> n = stream_->Read(sink);
            if (!n.ok() || *n == 0) {
              read_failed_ = true;
              return;
            }
            session_.PayloadReceived(*n);
            continue;
          }
          if (!FillBuffer()) return;
        }
        rpos_ += session_.Feed(ByteSpan(rbuf_.get() + rpos_, rlen_ - rpos_));
      }
      req = session_.PopRequest();
      if (req.type == kCmdWrite) large_writes_ = req.length >= kLargeWriteBytes;
    }
    if (!SendReply(Execute(req, exec_))) return;
  }
}

bool Server::Connection::SendReply(Reply reply) {
  constexpr size_t kMaxQueuedReplies = 256;
  constexpr size_t kMaxQueuedBytes = 64 << 20;
  std::unique_lock lock(write_mu_);
  queue_space_.wait(lock, [&] {
    return write_failed_ ||
           (queue_.size() < kMaxQueuedReplies && queued_bytes_ < kMaxQueuedBytes);
  });
  if (write_failed_) return false;
  queued_bytes_ += reply.header.size() + reply.size;
  queue_.push_back(std::move(reply));
  if (sending_) return true;  // the running sender will pick it up
  sending_ = true;
  std::vector<Reply> batch;
  std::vector<iovec> iov;
  for (;;) {
    batch.clear();
    batch.swap(queue_);
    queued_bytes_ = 0;
    queue_space_.notify_all();
    if (batch.empty()) break;
    lock.unlock();
    iov.clear();
    for (Reply& r : batch) {
      iov.push_back({r.header.data(), r.header.size()});
      if (r.size) iov.push_back({r.data.get(), r.size});
    }
    bool ok = SendAll(iov.data(), int(iov.size()));
    batch.clear();  // frees READ buffers outside the lock
    lock.lock();
    if (!ok) {
      queue_.clear();
      queue_space_.notify_all();
      break;
    }
  }
  sending_ = false;
  return !write_failed_;
}

void Server::Connection::Run() {
  if (!Handshake()) {
    if (!session_.close_reason().empty()) {
      log::Info("nbd", "handshake ended: " + session_.close_reason());
    }
    socket_->Shutdown();
    return;
  }
  exec_.target = session_.bound_export().get();
  exec_.structured = session_.structured_replies();
  exec_.meta_context_id = session_.meta_context_id();
  exec_.pool = session_.pool();
  log::Info("nbd", "client attached to export '" + exec_.target->name + "'");
  int threads = stream_->concurrent() ? std::max(1, options_.threads_per_connection) : 1;
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i)
    helpers.emplace_back([this] {
      ::pthread_setname_np(::pthread_self(), "nbd-worker");
      Worker();
    });
  Worker();
  // This worker saw the end of input (DISC, error, EOF); the others finish the requests
  // they hold, reply, and see the same end.
  for (auto& t : helpers) t.join();
  if (!session_.close_reason().empty()) log::Info("nbd", session_.close_reason());
  // The peer sees end of stream now, not when the accept loop reaps this connection.
  socket_->Shutdown();
}

Server::Server(const ExportRegistry* registry, ServerOptions options)
    : registry_(registry), options_(std::move(options)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Server::~Server() {
  Stop();
  for (int fd : listen_fds_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

Status Server::ListenTcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str.c_str(), &hints, &res);
  if (rc != 0) return Status::InvalidArgument("bad address " + host + ": " + gai_strerror(rc));
  Status last = Status::InvalidArgument("no address for " + host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno(errno, "socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      int err = errno;
      last = err == EADDRINUSE ? Status::Busy("address " + host + ":" + port_str + " in use")
                               : Status::FromErrno(err, "bind " + host + ":" + port_str);
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    tcp_port_ = ntohs(ss.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    listen_fds_.push_back(fd);
    ::freeaddrinfo(res);
    return Status::Ok();
  }
  ::freeaddrinfo(res);
  return last;
}

Status Server::ListenUnix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return Status::InvalidArgument("socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    // Replace a stale socket from an earlier run, never anything else (a typo must not
    // delete an image file).
    if (!S_ISSOCK(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(path + " exists and is not a socket");
    }
    ::unlink(path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "bind " + path);
  }
  listen_fds_.push_back(fd);
  unix_path_ = path;
  return Status::Ok();
}

Status Server::Start() {
  if (listen_fds_.empty()) return Status::FailedPrecondition("server has no listening socket");
  if (wake_fd_ < 0) return Status::IOError("eventfd failed");
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a peer that hangs up mid-reply
  // must cost that connection, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void Server::AcceptLoop() {
  std::vector<pollfd> fds;
  for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_fd_, POLLIN, 0});
  while (!stopping_) {
    int n = ::poll(fds.data(), fds.size(), 1000);
    Reap(false);
    if (n < 0 && errno != EINTR) {
      log::Error("nbd", std::string("poll: ") + std::strerror(errno));
      return;
    }
    if (n <= 0) continue;
    if (fds.back().revents) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int cfd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd < 0) continue;
      int one = 1;
      ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails on Unix: fine
      auto socket = std::make_unique<SocketStream>(cfd);
      std::lock_guard lock(mu_);
      if (int(connections_.size()) >= options_.max_connections) {
        ++refused_;
        log::Warn("nbd", "connection limit reached; refusing a client");
        continue;  // the SocketStream closes the descriptor
      }
      ++accepted_;
      connections_.push_back(std::make_unique<Connection>(std::move(socket), registry_, options_, &pool_));
      connections_.back()->Start();
    }
  }
}

void Server::Reap(bool all) {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (all || (*it)->done()) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) {
    if (all) c->Shutdown();
  }
  for (auto& c : finished) c->Join();
}

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  Reap(true);
}

ServerStats Server::stats() const {
  std::lock_guard lock(mu_);
  return ServerStats{accepted_, refused_, connections_.size()};
}

}  // namespace lifeline::nbd
