// Replication transport: a listener that accepts many connections, each authenticated
// (TLS 1.3, client certificate signed by the vault CA) and served on its own threads so
// one slow or malformed peer never affects the others; and a client Connect() with
// connect and handshake timeouts.
//
// Concurrency model (see also connection.h): blocking threads with poll(), bounded.
// Server: one accept thread; per accepted socket one session thread (TLS handshake, then
// the caller's handler) plus the Connection's I/O thread. At most max_connections
// sessions exist; extra sockets are closed at once and logged. Server methods are
// thread-safe; the handler runs concurrently for different connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "wire/connection.h"
#include "wire/tls.h"

namespace lifeline::wire {

struct Endpoint {
  std::string host;  // IP literal or name ("127.0.0.1", "vault.example", "::1")
  uint16_t port = 0;
  std::string ToString() const;
  // "host:port" or "[v6]:port".
  static Result<Endpoint> Parse(std::string_view text);
  // The same for a listening address, where port 0 asks the kernel for a free port.
  static Result<Endpoint> ParseListen(std::string_view text);

 private:
  static Result<Endpoint> ParseImpl(std::string_view text, bool allow_port_zero);
};

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks; read it back with Server::port()
  size_t max_connections = 256;
  int64_t handshake_timeout_ms = 5000;
  ConnectionOptions connection;
};

// Called on a session thread for every authenticated connection; the connection is
// closed when it returns. conn.peer_identity() is the client certificate's CN.
using ConnectionHandler = std::function<void(Connection& conn)>;

class Server {
 public:
  // `tls` null means plain TCP (the caller checked the operator's --insecure).
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::shared_ptr<TlsContext> tls,
                                               ConnectionHandler handler);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const { return port_; }
  // Stops accepting, aborts every connection, joins every thread.
  void Stop();

  size_t active_sessions() const;
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t refused() const { return refused_.load(); }
  // The last (up to 64) reasons connections were refused, oldest first, e.g.
  // "127.0.0.1:40312: client certificate rejected: certificate has expired".
  std::vector<std::string> recent_refusals() const;

 private:
  struct Session {
    std::thread thread;
    std::atomic<bool> done{false};
    std::mutex mu;
    Connection* conn = nullptr;  // set while the handler runs
  };
  Server(const ServerOptions& options, std::shared_ptr<TlsContext> tls, ConnectionHandler handler)
      : options_(options), tls_(std::move(tls)), handler_(std::move(handler)) {}
  void AcceptLoop();
  void RunSession(Session* s, int fd);
  void Refuse(const std::string& reason);
  void Reap(bool all);

  const ServerOptions options_;
  std::shared_ptr<TlsContext> tls_;
  ConnectionHandler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  mutable std::mutex mu_;
  std::list<std::unique_ptr<Session>> sessions_;
  std::deque<std::string> refusals_;
};

struct ConnectOptions {
  int64_t connect_timeout_ms = 3000;
  int64_t handshake_timeout_ms = 5000;
  // Name the server certificate must carry; empty: the endpoint's host.
  std::string server_name;
  ConnectionOptions connection;
};

// Connects and (unless `tls` is null, i.e. --insecure) runs the TLS handshake. In TLS 1.3
// the server checks the client certificate after the client's handshake completes, so a
// refused client sees the refusal on its first Receive() (IOError with the TLS alert).
Result<std::unique_ptr<Connection>> Connect(const Endpoint& endpoint,
                                            std::shared_ptr<TlsContext> tls,
                                            const ConnectOptions& options = {});

}  // namespace lifeline::wire
