// nbd::Session: the NBD protocol state machine of one connection (fixed newstyle
// handshake, option haggling, request framing and validation), kept apart from socket I/O.
// The driver feeds received bytes in, sends TakeOutput() bytes out, and executes the
// validated Requests it pops (executor.h builds their replies). Not thread-safe: the
// driver serialises calls (server.cc holds the connection's read lock around them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "nbd/buffer_pool.h"
#include "nbd/export_registry.h"

namespace lifeline::nbd {

// Bounds on what a peer can make the session hold or do.
struct SessionLimits {
  uint32_t min_block_bytes = 1;
  uint32_t preferred_block_bytes = 4096;
  uint32_t max_payload_bytes = 32u << 20;  // advertised maximum block size (READ/WRITE)
  // WRITE payloads above the maximum but at most this long are read and discarded, then
  // refused with EINVAL; longer ones end the connection (the spec allows both).
  uint32_t drain_limit_bytes = 64u << 20;
  uint32_t max_option_bytes = 64u << 10;  // longer option data ends the connection
  uint32_t max_options = 256;             // options per handshake
};

struct SessionConfig {
  const ExportRegistry* registry = nullptr;  // REQUIRES: outlives the session
  SessionLimits limits;
  bool tls_available = false;  // answer STARTTLS with ACK (the driver can do TLS)
  bool tls_required = false;   // FORCEDTLS: only STARTTLS and ABORT before TLS is up
  BufferPool* pool = nullptr;  // WRITE payload buffers; null: plain heap
};

// A framed, validated transmission request. `error` != 0 means the session already
// decided the answer (bad flags, out of range, too long, read-only...): the executor
// replies with that error and does not touch the backend.
struct Request {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t handle = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t error = 0;
  PooledBuffer payload;  // WRITE data (length bytes) when error == 0
};

class Session {
 public:
  enum class Phase { kHandshake, kStartTls, kTransmission, kClosed };
  enum class State {
    kClientFlags,     // greeting sent, waiting for the 32-bit client flags
    kOptionHeader,    // waiting for an option header
    kOptionData,      // waiting for the option's data
    kStartTls,        // ACKed STARTTLS; the driver runs the TLS handshake
    kRequestHeader,   // transmission: waiting for a 28-byte request header
    kRequestPayload,  // receiving a WRITE payload
    kDrainPayload,    // discarding the payload of a refused WRITE
    kClosed,          // no more input is accepted
  };

  explicit Session(SessionConfig config);

  // Queues the server greeting. Call once, first.
  void Start();

  // Consumes a prefix of `data` and returns how many bytes it took. Stops early when a
  // request is ready (pop it, then feed the rest), when TLS must start, or when closed.
  size_t Feed(ByteSpan data);

  // While receiving a WRITE payload: the bytes still missing, so the driver can read
  // straight into them; then PayloadReceived(n) with the count filled. Empty otherwise.
  MutableByteSpan PayloadSink();
  void PayloadReceived(size_t n);

  bool HasRequest() const { return ready_.has_value(); }
  Request PopRequest();

  // Bytes to send to the peer (handshake replies); empties the buffer.
  std::string TakeOutput();
  bool HasOutput() const { return !out_.empty(); }

  // After Phase::kStartTls: the TLS handshake succeeded; negotiation restarts (the spec
  // requires forgetting structured replies and meta contexts).
  void TlsEstablished();

  Phase phase() const;
  State state() const { return state_; }
  // State transitions so far (for tests and diagnostics).
  uint64_t transitions() const { return transitions_; }
  // Why the session closed; empty for a client's DISC or ABORT.
  const std::string& close_reason() const { return close_reason_; }

  // Negotiated transmission parameters (valid in Phase::kTransmission).
  const std::shared_ptr<const Export>& bound_export() const { return export_; }
  bool structured_replies() const { return structured_; }
  uint32_t meta_context_id() const { return meta_id_; }  // 0: none selected
  uint16_t transmission_flags() const { return TransmissionFlags(export_->read_only); }
  const SessionLimits& limits() const { return config_.limits; }
  BufferPool* pool() const { return config_.pool; }

  static constexpr uint32_t kBaseAllocationId = 1;

 private:
  void SetState(State next);
  void Close(std::string reason);
  uint16_t TransmissionFlags(bool read_only) const;

  void OnClientFlags();
  void OnOptionHeader();
  void OnOption();
  void OnRequestHeader();
  void FinishRequest();

  void ReplyOption(uint32_t type, std::string_view data = {});
  void ReplyError(uint32_t type, std::string_view message);
  void HandleList();
  void HandleInfoGo(bool go);
  void HandleMetaContext(bool set);
  void HandleExportName();
  void EnterTransmission(std::shared_ptr<const Export> e);

  SessionConfig config_;
  State state_ = State::kClientFlags;
  uint64_t transitions_ = 0;
  std::string close_reason_;
  std::string out_;

  // Framing.
  size_t need_ = 0;      // bytes wanted in buf_ for the current fixed-size unit
  std::string buf_;      // accumulates that unit
  uint32_t option_ = 0;  // current option number
  uint64_t drain_left_ = 0;
  size_t payload_filled_ = 0;
  Request pending_;
  std::optional<Request> ready_;

  // Negotiation.
  bool no_zeroes_ = false;
  bool tls_active_ = false;
  bool structured_ = false;
  uint32_t options_seen_ = 0;
  uint32_t meta_id_ = 0;
  std::shared_ptr<const Export> meta_target_;  // export named by the last SET_META_CONTEXT
  std::shared_ptr<const Export> export_;
};

const char* StateName(Session::State s);

}  // namespace lifeline::nbd
