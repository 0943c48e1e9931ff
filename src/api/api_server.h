// The vault's REST API over HTTPS (cpp-httplib with OpenSSL): JSON in and out, bearer-token
// authentication (the admin token, or an agent's own token for its routes), bounded request
// bodies, and every error as {"error": {"code", "message"}} with a matching HTTP status.
// Routes are documented in docs/api.md. Thread-safe (httplib's thread pool).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class SSLServer;
}

namespace lifeline::vault {
class Vault;
class RecoveryOps;
}

namespace lifeline::api {

class ApiServer {
 public:
  // Binds to `listen` ("host:port", port 0 picks one) with the vault's server certificate.
  static Result<std::unique_ptr<ApiServer>> Start(vault::Vault* vault, const std::string& listen);
  ~ApiServer();
  uint16_t port() const { return port_; }
  void Stop();

 private:
  ApiServer() = default;
  void Routes();
  vault::Vault* vault_ = nullptr;
  std::shared_ptr<vault::RecoveryOps> recovery_;  // drills, failover, commit (recovery_ops.h)
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

// HTTP status for a failed operation.
int HttpStatusFor(Code code);

}  // namespace lifeline::api
