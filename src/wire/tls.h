// TLS configuration for replication: TLS 1.3 only, mutual certificate authentication
// against the vault's CA (the server requires a client certificate; the client checks the
// server certificate and its name), or plain TCP when the operator asked for --insecure.
// TlsContext is immutable after Create() and thread-safe (OpenSSL SSL_CTX is shared).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace lifeline::wire {

struct TlsConfig {
  // Plain TCP without any authentication or encryption: only for an explicit --insecure.
  bool insecure = false;
  std::string ca_cert_pem;  // trust anchor: the peer's certificate must chain to it
  std::string cert_pem;     // own certificate (server cert on the vault, client cert on agents)
  std::string key_pem;
};

// Reads ca.crt / <name>.crt / <name>.key style files into a TlsConfig.
Result<TlsConfig> LoadTlsConfig(const std::string& ca_cert_path, const std::string& cert_path,
                                const std::string& key_path);

enum class TlsRole { kServer, kClient };

class TlsContext {
 public:
  // Null context (and Ok) when config.insecure: callers then speak plain TCP.
  static Result<std::shared_ptr<TlsContext>> Create(const TlsConfig& config, TlsRole role);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }
  TlsRole role() const { return role_; }

 private:
  TlsContext(SSL_CTX* ctx, TlsRole role) : ctx_(ctx), role_(role) {}
  SSL_CTX* ctx_;
  TlsRole role_;
};

// The OpenSSL error queue as one line, cleared.
std::string TakeSslErrors();

}  // namespace lifeline::wire
