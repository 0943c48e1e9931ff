// ReplicationService: the vault's replication listener. Each authenticated connection is
// one stream of one disk: HELLO (checked against the caller's authorization hook), then
// WRITE, POINT, HASH_REQUEST frames until it ends. A malformed frame or a refused HELLO ends
// that connection alone, with an ERROR frame and a log line; the service keeps serving.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "store/replica_store.h"
#include "vault/disk_sink.h"
#include "wire/transport.h"

namespace lifeline::vault {

// Decides whether `agent_id` (the client certificate's name; empty with --insecure) may
// replicate `disk_id` of `machine`, and returns the replica to write to. Called per HELLO.
using AuthorizeFn = std::function<Result<store::DiskReplica*>(const std::string& agent_id, const wire::Hello& hello)>;

struct ReplicationOptions {
  wire::ServerOptions server;
  uint64_t max_buffer_bytes_per_disk = 256u << 20;
  int64_t hello_timeout_ms = 5000;
};

class ReplicationService {
 public:
  static Result<std::unique_ptr<ReplicationService>> Start(const ReplicationOptions& options,
                                                           std::shared_ptr<wire::TlsContext> tls,
                                                           AuthorizeFn authorize);
  ~ReplicationService();
  uint16_t port() const { return server_->port(); }
  void Stop();
  // Per-disk state for status and health.
  std::map<std::string, SinkStats> Stats() const;
  // The sink of a disk that has connected since the service started; null otherwise.
  DiskSink* FindSink(const std::string& disk_id) const;
  const wire::Server& server() const { return *server_; }
  // Ends the disk's streams and forgets its sink, so its replica can be removed (machine
  // delete). REQUIRES: new HELLOs for the disk are refused already. Busy when a stream has
  // not ended within `timeout_ms` (the sink is kept then).
  Status CloseDisk(const std::string& disk_id, int64_t timeout_ms);

 private:
  ReplicationService(const ReplicationOptions& options, AuthorizeFn authorize)
      : options_(options), authorize_(std::move(authorize)) {}
  void Serve(wire::Connection& conn);
  Status ServeStream(wire::Connection& conn, DiskSink* sink, const wire::Hello& hello);
  DiskSink* SinkFor(store::DiskReplica* replica);

  const ReplicationOptions options_;
  AuthorizeFn authorize_;
  std::unique_ptr<wire::Server> server_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<DiskSink>> sinks_;
};

}  // namespace lifeline::vault
