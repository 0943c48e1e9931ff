// nbd::Server: accepts NBD connections on TCP and Unix sockets and serves the exports of
// an ExportRegistry. Each connection runs a Session (the protocol state machine) under a
// pool of worker threads: one at a time reads and frames the next request, then executes
// it and sends its reply, so requests pipeline and replies complete out of order.
// Thread-safety: Listen*/Start/Stop from one controlling thread; stats() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "nbd/buffer_pool.h"
#include "nbd/export_registry.h"
#include "nbd/session.h"

namespace lifeline::nbd {

class TlsServerContext;  // tls_stream.h

struct ServerOptions {
  SessionLimits limits;
  // Worker threads per connection = the most requests one connection has in flight.
  // Memory bound per connection: about (threads + 1) x limits.max_payload_bytes.
  int threads_per_connection = 8;
  int max_connections = 64;  // further connections are accepted and closed at once
  // Optional TLS (NBD_OPT_STARTTLS); with tls_required plain clients get TLS_REQD.
  std::shared_ptr<TlsServerContext> tls;
  bool tls_required = false;
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  uint64_t connections_active = 0;
};

class Server {
 public:
  // REQUIRES: `registry` outlives the server.
  Server(const ExportRegistry* registry, ServerOptions options);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on host:port (port 0 picks a free port; see tcp_port()).
  Status ListenTcp(const std::string& host, uint16_t port);
  // Binds and listens on a Unix socket path (an existing socket file is replaced).
  Status ListenUnix(const std::string& path);
  uint16_t tcp_port() const { return tcp_port_; }

  // Starts the accept thread. REQUIRES: at least one Listen* succeeded. Sets SIGPIPE to
  // ignored for the process (TLS writes use write(2)).
  Status Start();
  // Stops accepting, disconnects every client, waits for their threads. Idempotent.
  void Stop();

  ServerStats stats() const;

 private:
  class Connection;
  void AcceptLoop();
  void Reap(bool all);

  const ExportRegistry* registry_;
  ServerOptions options_;
  BufferPool pool_;  // payload buffers shared by all connections
  std::vector<int> listen_fds_;
  std::string unix_path_;
  uint16_t tcp_port_ = 0;
  int wake_fd_ = -1;  // eventfd that ends the accept loop
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;  // guards connections_ and counters
  std::list<std::unique_ptr<Connection>> connections_;
  uint64_t accepted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace lifeline::nbd
