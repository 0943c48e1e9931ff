#include "cli/client_flags.h"

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace lifeline::cli {

void ClientFlags::Add(CLI::App* c) {
  c->add_option("--vault", config.url, "vault API URL (https://host:port); or LIFELINE_VAULT");
  c->add_option("--ca", config.ca_path, "the vault's CA certificate; or LIFELINE_CA");
  c->add_option("--token", config.token, "admin token; or LIFELINE_TOKEN");
  c->add_option("--vault-dir", vault_dir, "a vault directory on this host (finds URL and CA)");
  c->add_flag("--json", Globals().json, "JSON output on stdout");
}

Result<api::ApiClient> ClientFlags::Client() const {
  LL_ASSIGN_OR_RETURN(auto cfg, api::ResolveClientConfig(config, vault_dir));
  return api::ApiClient(cfg);
}

}  // namespace lifeline::cli
