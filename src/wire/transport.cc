#include "wire/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace lifeline::wire {

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> Endpoint::ParseListen(std::string_view text) { return ParseImpl(text, true); }
Result<Endpoint> Endpoint::Parse(std::string_view text) { return ParseImpl(text, false); }

Result<Endpoint> Endpoint::ParseImpl(std::string_view text, bool allow_port_zero) {
  Endpoint e;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Status::InvalidArgument("bad address '" + std::string(text) + "': use [v6]:port");
    e.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return Status::InvalidArgument("bad address '" + std::string(text) + "': use host:port");
    e.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos)
    return Status::InvalidArgument("bad port in '" + std::string(text) + "'");
  unsigned long port = std::stoul(std::string(port_text));
  if ((port == 0 && !allow_port_zero) || port > 65535)
    return Status::InvalidArgument("port out of range in '" + std::string(text) + "'");
  e.port = uint16_t(port);
  return e;
}

// ---------------------------------------------------------------- server

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::shared_ptr<TlsContext> tls,
                                              ConnectionHandler handler) {
  if (tls && tls->role() != TlsRole::kServer)
    return Status::InvalidArgument("server needs a server TLS context");
  std::unique_ptr<Server> s(new Server(options, std::move(tls), std::move(handler)));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options.port);
  int rc = ::getaddrinfo(options.bind_address.empty() ? nullptr : options.bind_address.c_str(),
                         port.c_str(), &hints, &res);
  if (rc != 0)
    return Status::InvalidArgument("cannot resolve listen address '" + options.bind_address +
                                   "': " + gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return Status::FromErrno(errno, "socket");
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::freeaddrinfo(res);
    ::close(fd);
    return Status::FromErrno(e, "listening on " + options.bind_address + ":" + port);
  }
  ::freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  s->port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  s->listen_fd_ = fd;
  s->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->wake_fd_ < 0) return Status::FromErrno(errno, "eventfd");
  Server* raw = s.get();
  s->accept_thread_ = std::thread([raw] { raw->AcceptLoop(); });
  return s;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopping_.exchange(true)) {
    if (accept_thread_.joinable()) accept_thread_.join();
    return;
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& s : sessions_) {
      std::lock_guard<std::mutex> sl(s->mu);
      if (s->conn) s->conn->Abort();
    }
  }
  Reap(true);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

size_t Server::active_sessions() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (auto& s : sessions_) n += s->done ? 0 : 1;
  return n;
}

std::vector<std::string> Server::recent_refusals() const {
  std::lock_guard<std::mutex> l(mu_);
  return {refusals_.begin(), refusals_.end()};
}

void Server::Refuse(const std::string& reason) {
  log::Warn("wire", "refused connection " + reason);
  std::lock_guard<std::mutex> l(mu_);
  refusals_.push_back(reason);
  while (refusals_.size() > 64) refusals_.pop_front();
  refused_++;  // after the reason is recorded: readers of the count then see it
}

void Server::Reap(bool all) {
  std::list<std::unique_ptr<Session>> finished;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (all || (*it)->done) {
        finished.push_back(std::move(*it));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : finished)
    if (s->thread.joinable()) s->thread.join();
}

void Server::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    Reap(false);
    if (r <= 0 || stopping_) continue;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR)
        log::Warn("wire", std::string("accept failed: ") + std::strerror(errno));
      if (errno == EMFILE || errno == ENFILE) ::usleep(100 * 1000);  // let sessions end
      continue;
    }
    if (active_sessions() >= options_.max_connections) {
      Refuse("from " + PeerAddress(fd) + ": connection limit of " +
             std::to_string(options_.max_connections) + " reached");
      ::close(fd);
      continue;
    }
    accepted_++;
    auto session = std::make_unique<Session>();
    Session* raw = session.get();
    std::lock_guard<std::mutex> l(mu_);
    sessions_.push_back(std::move(session));
    raw->thread = std::thread([this, raw, fd] { RunSession(raw, fd); });
  }
}

void Server::RunSession(Session* s, int fd) {
  ::pthread_setname_np(::pthread_self(), "repl-session");
  SetCurrentThreadNice(options_.connection.cpu_nice);
  std::string peer = PeerAddress(fd);
  std::unique_ptr<Channel> channel;
  if (tls_) {
    Result<std::unique_ptr<Channel>> ch =
        TlsHandshake(fd, *tls_, "", options_.handshake_timeout_ms);
    if (!ch.ok()) {
      Refuse("from " + peer + ": " + ch.status().message());
      s->done = true;
      return;
    }
    channel = std::move(*ch);
  } else {
    channel = MakePlainChannel(fd);
  }
  auto conn = std::make_unique<Connection>(std::move(channel), options_.connection);
  {
    std::lock_guard<std::mutex> l(s->mu);
    s->conn = conn.get();
    if (stopping_) conn->Abort();
  }
  log::Info("wire", "connection from " + peer +
                        (conn->peer_identity().empty() ? "" : " (" + conn->peer_identity() + ")"));
  handler_(*conn);
  conn->Close();
  Status end = conn->status();
  if (end.code() == Code::kCorruption)
    log::Warn("wire", "connection from " + peer + " closed: " + end.ToString());
  {
    std::lock_guard<std::mutex> l(s->mu);
    s->conn = nullptr;
  }
  conn.reset();
  s->done = true;
}

// ---------------------------------------------------------------- client

Result<std::unique_ptr<Connection>> Connect(const Endpoint& endpoint,
                                            std::shared_ptr<TlsContext> tls,
                                            const ConnectOptions& options) {
  if (tls && tls->role() != TlsRole::kClient)
    return Status::InvalidArgument("connect needs a client TLS context");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(endpoint.port);
  int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    return Status::IOError("cannot resolve " + endpoint.ToString() + ": " + gai_strerror(rc));
  Status last = Status::IOError("no address for " + endpoint.ToString());
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last = Status::FromErrno(errno, "socket");
      continue;
    }
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      if (WaitFd(fd, true, options.connect_timeout_ms)) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
        errno = err;
      } else {
        r = -1;
        errno = ETIMEDOUT;
      }
    }
    if (r == 0) break;
    last = Status::FromErrno(errno, "connecting to " + endpoint.ToString());
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return last;
  std::unique_ptr<Channel> channel;
  if (tls) {
    std::string name = options.server_name.empty() ? endpoint.host : options.server_name;
    LL_ASSIGN_OR_RETURN(channel, TlsHandshake(fd, *tls, name, options.handshake_timeout_ms));
  } else {
    channel = MakePlainChannel(fd);
  }
  return std::make_unique<Connection>(std::move(channel), options.connection);
}

}  // namespace lifeline::wire
