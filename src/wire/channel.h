// A byte channel over a connected non-blocking TCP socket: TLS (OpenSSL) or plain.
// Read/Write never block; they report when the socket must become readable or writable.
// The narrow interface lets tests wrap a channel to cut, stall or corrupt a stream.
// Thread-compatible: one thread (the connection's I/O thread) uses a channel at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/status.h"
#include "wire/tls.h"

namespace lifeline::wire {

enum class IoState { kOk, kWantRead, kWantWrite, kEof, kError };
struct IoResult {
  IoState state = IoState::kOk;
  size_t bytes = 0;  // with kOk: bytes moved (> 0)
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual IoResult Read(MutableByteSpan buf) = 0;
  virtual IoResult Write(ByteSpan buf) = 0;
  // Sends output the channel buffered itself (TLS records); kWantWrite if the socket is
  // full. Write() may return kOk for bytes that still sit in such a buffer.
  virtual IoResult Flush() { return {IoState::kOk, 0}; }
  virtual bool HasPendingOutput() const { return false; }
  // Best-effort orderly close (TLS close_notify); the socket closes in the destructor.
  virtual void Shutdown() = 0;
  virtual int fd() const = 0;
  // Why the last kError happened.
  virtual std::string LastError() const = 0;
  // Identity of the authenticated peer (certificate CN); empty without TLS.
  virtual std::string PeerIdentity() const = 0;
};

// Owns `fd` (closed on destruction). Sets it non-blocking and TCP_NODELAY.
std::unique_ptr<Channel> MakePlainChannel(int fd);

// Runs the TLS handshake on `fd` (owned, closed on failure) within `timeout_ms`. On the
// client, `expected_host` (an IP or DNS name) must appear in the server certificate.
// Failure: Unauthenticated with the verification reason (expired, unknown CA, no client
// certificate, name mismatch) or IOError for transport problems.
Result<std::unique_ptr<Channel>> TlsHandshake(int fd, const TlsContext& ctx,
                                              const std::string& expected_host, int64_t timeout_ms);

// Helpers shared by the transport: "ip:port" of a socket's peer, monotonic milliseconds.
std::string PeerAddress(int fd);
int64_t MonotonicMs();
// Waits until `fd` is readable/writable or the timeout passes; false on timeout or error.
bool WaitFd(int fd, bool for_write, int64_t timeout_ms);

}  // namespace lifeline::wire
