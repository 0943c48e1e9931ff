// TLS for NBD (NBD_OPT_STARTTLS) with OpenSSL: a server context built from certificate
// and key files, and the stream it produces. Server authentication only (X.509); TLS 1.2
// or later. Thread-safety: TlsServerContext is thread-safe after Create; a TLS stream is
// not concurrent (one thread reads and writes it; the server runs one worker for it).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "nbd/stream.h"

namespace lifeline::nbd {

class TlsServerContext {
 public:
  // Loads a PEM certificate chain and private key. InvalidArgument if they do not load or
  // do not match.
  static Result<std::shared_ptr<TlsServerContext>> Create(const std::string& cert_path,
                                                          const std::string& key_path);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // Runs the server side of the TLS handshake over `socket` and returns the encrypted
  // stream. REQUIRES: `socket` outlives the returned stream.
  Result<std::unique_ptr<Stream>> Accept(SocketStream* socket);

 private:
  explicit TlsServerContext(void* ctx) : ctx_(ctx) {}
  void* ctx_;  // SSL_CTX*
};

}  // namespace lifeline::nbd
