// The flags every command that talks to a vault's REST API takes (--vault, --ca, --token,
// --vault-dir, --json), and the client they resolve to (api/client.h).
#pragma once

#include <string>

#include "api/client.h"
#include "common/status.h"

namespace CLI {
class App;
}

namespace lifeline::cli {

struct ClientFlags {
  api::ClientConfig config;
  std::string vault_dir;
  void Add(CLI::App* command);
  Result<api::ApiClient> Client() const;
};

}  // namespace lifeline::cli
