// ApiClient: the CLI's and the agent's HTTPS client of the vault's REST API. Verifies the
// vault against its CA certificate; errors from the vault come back as their Status codes.
// Thread-compatible: one client per thread.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

#include "common/status.h"

namespace lifeline::api {

struct ClientConfig {
  std::string url;      // https://host:port
  std::string ca_path;  // the vault's CA certificate
  std::string token;    // admin or agent token
};

// From flags, then LIFELINE_VAULT / LIFELINE_CA / LIFELINE_TOKEN, then a local vault's
// DIR/run/endpoints.json when --vault-dir (or LIFELINE_VAULT_DIR) is given.
Result<ClientConfig> ResolveClientConfig(ClientConfig flags, const std::string& vault_dir);

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config);
  ~ApiClient();
  Result<nlohmann::json> Get(const std::string& path);
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> Delete(const std::string& path);

 private:
  Result<nlohmann::json> Handle(int status, const std::string& body, const std::string& what);
  ClientConfig config_;
};

}  // namespace lifeline::api
