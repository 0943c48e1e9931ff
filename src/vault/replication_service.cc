#include "vault/replication_service.h"

#include <chrono>
#include <thread>

#include "common/log.h"
#include "wire/streams.h"

namespace lifeline::vault {

namespace {
constexpr char kLog[] = "vault";
}

Result<std::unique_ptr<ReplicationService>> ReplicationService::Start(const ReplicationOptions& options,
                                                                      std::shared_ptr<wire::TlsContext> tls,
                                                                      AuthorizeFn authorize) {
  std::unique_ptr<ReplicationService> s(new ReplicationService(options, std::move(authorize)));
  ReplicationService* raw = s.get();
  LL_ASSIGN_OR_RETURN(s->server_, wire::Server::Start(options.server, std::move(tls),
                                                      [raw](wire::Connection& c) { raw->Serve(c); }));
  return s;
}

ReplicationService::~ReplicationService() { Stop(); }

void ReplicationService::Stop() {
  if (server_) server_->Stop();
  std::lock_guard l(mu_);
  sinks_.clear();
}

DiskSink* ReplicationService::SinkFor(store::DiskReplica* replica) {
  std::lock_guard l(mu_);
  auto& sink = sinks_[replica->disk_id()];
  if (!sink) sink = std::make_unique<DiskSink>(replica, options_.max_buffer_bytes_per_disk,
                                                options_.server.connection.cpu_nice);
  return sink.get();
}

Status ReplicationService::CloseDisk(const std::string& disk_id, int64_t timeout_ms) {
  DiskSink* sink = FindSink(disk_id);
  if (!sink) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    sink->AbortStreams();
    if (sink->stats().streams == 0) break;
    if (std::chrono::steady_clock::now() > deadline)
      return Status::Busy("a replication stream of disk " + disk_id + " did not end within " +
                          std::to_string(timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard l(mu_);
  sinks_.erase(disk_id);
  return Status::Ok();
}

DiskSink* ReplicationService::FindSink(const std::string& disk_id) const {
  std::lock_guard l(mu_);
  auto it = sinks_.find(disk_id);
  return it == sinks_.end() ? nullptr : it->second.get();
}

std::map<std::string, SinkStats> ReplicationService::Stats() const {
  std::lock_guard l(mu_);
  std::map<std::string, SinkStats> out;
  for (const auto& [id, sink] : sinks_) out[id] = sink->stats();
  return out;
}

void ReplicationService::Serve(wire::Connection& conn) {
  auto refuse = [&](const Status& s) {
    log::Warn(kLog, "stream from " + conn.peer_address() + " (" + conn.peer_identity() + ") refused: " + s.ToString());
    conn.CloseWithError(s);
  };
  auto first = conn.Receive(options_.hello_timeout_ms);
  if (!first.ok()) return refuse(first.status());
  if (!first->has_value()) return refuse(Status::InvalidArgument("no HELLO within the timeout"));
  auto hello = wire::DecodeHello(**first);
  if (!hello.ok()) return refuse(hello.status());
  Status streams_ok = wire::ValidateStreamCount(hello->stream_count);
  if (!streams_ok.ok()) return refuse(streams_ok);
  if (hello->stream_index >= hello->stream_count)
    return refuse(Status::InvalidArgument("stream index " + std::to_string(hello->stream_index) +
                                          " is not below the stream count " + std::to_string(hello->stream_count)));
  auto replica = authorize_(conn.peer_identity(), *hello);
  if (!replica.ok()) return refuse(replica.status());
  if ((*replica)->size_bytes() != hello->disk_size_bytes)
    return refuse(Status::FailedPrecondition(
        "disk " + hello->disk_id + " is now " + std::to_string(hello->disk_size_bytes) + " bytes but its replica is " +
        std::to_string((*replica)->size_bytes()) +
        (hello->disk_size_bytes < (*replica)->size_bytes()
             ? ": the disk shrank, and a replica never shrinks (its points would lose data); re-protect it"
             : ": the disk changed size and the replica cannot follow (nbd mode: restart the agent; else re-protect)")));
  DiskSink* sink = SinkFor(*replica);
  auto durable = sink->Join(hello->session_id, &conn);
  if (!durable.ok()) {
    sink->Leave(&conn);
    return refuse(durable.status());
  }
  if (hello->acked_seq > *durable) {
    // Invariant 1 says this cannot happen to the same replica: it was replaced (the machine
    // was deleted and protected again, or the store restored from an older copy).
    sink->Leave(&conn);
    return refuse(Status::FailedPrecondition(
        "disk " + hello->disk_id + ": the agent holds seq " + std::to_string(hello->acked_seq) +
        " as acknowledged but the replica ends at seq " + std::to_string(*durable) +
        ": the replica was replaced (e.g. the machine was deleted and protected again); restart "
        "the agent so "
        "it copies the disk again"));
  }
  wire::HelloOk ok;
  ok.durable_seq = *durable;
  Status s = conn.Send(wire::Encode(ok), 5000);
  if (s.ok()) s = ServeStream(conn, sink, *hello);
  sink->Leave(&conn);
  if (!s.ok() && s.code() != Code::kIOError) refuse(s);
  else if (!s.ok()) log::Info(kLog, "stream " + std::to_string(hello->stream_index) + " of disk " + hello->disk_id +
                                        " from " + conn.peer_address() + " ended: " + s.message());
}

Status ReplicationService::ServeStream(wire::Connection& conn, DiskSink* sink, const wire::Hello& hello) {
  for (;;) {
    LL_ASSIGN_OR_RETURN(auto frame, conn.Receive(-1));
    if (!frame) continue;
    switch (frame->type) {
      case wire::FrameType::kWrite: {
        LL_ASSIGN_OR_RETURN(auto w, wire::DecodeWrite(*frame));
        if (w.offset > sink->replica()->size_bytes() || w.length > sink->replica()->size_bytes() - w.offset)
          return Status::InvalidArgument("write at " + std::to_string(w.offset) + " is outside the disk");
        LL_RETURN_IF_ERROR(sink->Offer(hello.session_id, w, std::move(frame->payload)));
        break;
      }
      case wire::FrameType::kPoint: {
        LL_ASSIGN_OR_RETURN(auto p, wire::DecodePoint(*frame));
        LL_RETURN_IF_ERROR(sink->AddPoint(p, &conn));
        break;
      }
      case wire::FrameType::kHashRequest: {
        LL_ASSIGN_OR_RETURN(auto req, wire::DecodeHashRequest(*frame));
        store::DiskReplica* d = sink->replica();
        LL_ASSIGN_OR_RETURN(auto hashes,
                            d->BlockHashes(d->durable_seq(), req.block_size, req.first_block, req.block_count));
        wire::HashReply reply;
        reply.request_id = req.request_id;
        reply.block_size = req.block_size;
        reply.first_block = req.first_block;
        reply.hashes = std::move(hashes);
        LL_RETURN_IF_ERROR(conn.Send(wire::Encode(reply), 10000));
        break;
      }
      case wire::FrameType::kGroupHeld: {
        LL_ASSIGN_OR_RETURN(auto m, wire::DecodeGroupHeld(*frame));
        sink->OnGroupHeld(m);
        break;
      }
      case wire::FrameType::kGroupReleased: {
        LL_ASSIGN_OR_RETURN(auto m, wire::DecodeGroupReleased(*frame));
        sink->OnGroupReleased(m);
        break;
      }
      case wire::FrameType::kError: {
        LL_ASSIGN_OR_RETURN(auto e, wire::DecodeError(*frame));
        return Status::IOError("agent closed the stream: " + e.ToStatus().ToString());
      }
      default:
        return Status::InvalidArgument(std::string("unexpected ") + std::string(wire::FrameTypeName(frame->type)) +
                                       " frame from the agent");
    }
  }
}

}  // namespace lifeline::vault
