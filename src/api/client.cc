#include "api/client.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdlib>

#include "common/fs.h"

namespace lifeline::api {

using nlohmann::json;

Result<ClientConfig> ResolveClientConfig(ClientConfig c, const std::string& vault_dir_flag) {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (c.url.empty()) c.url = env("LIFELINE_VAULT");
  if (c.ca_path.empty()) c.ca_path = env("LIFELINE_CA");
  if (c.token.empty()) c.token = env("LIFELINE_TOKEN");
  std::string dir = vault_dir_flag.empty() ? env("LIFELINE_VAULT_DIR") : vault_dir_flag;
  if (!dir.empty() && (c.url.empty() || c.ca_path.empty())) {
    auto text = ReadWholeFile(FileSystem::Posix(), JoinPath(dir, "run/endpoints.json"), 1 << 20);
    if (!text.ok()) return Status::NotFound("no running vault found in " + dir + " (run/endpoints.json): is `lifeline vault run` up?");
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded()) return Status::Corruption(dir + "/run/endpoints.json is not valid JSON");
    if (c.url.empty()) c.url = j.value("api", "");
    if (c.ca_path.empty()) c.ca_path = j.value("ca", "");
  }
  if (c.url.empty()) return Status::InvalidArgument("no vault given: use --vault https://HOST:PORT (or LIFELINE_VAULT) or --vault-dir DIR");
  if (c.url.rfind("https://", 0) != 0) return Status::InvalidArgument("the vault URL must start with https://");
  if (c.ca_path.empty()) return Status::InvalidArgument("no CA certificate for the vault: use --ca FILE (or LIFELINE_CA)");
  return c;
}

ApiClient::ApiClient(ClientConfig config) : config_(std::move(config)) {}
ApiClient::~ApiClient() = default;

namespace {
std::unique_ptr<httplib::SSLClient> MakeClient(const ClientConfig& c) {
  std::string rest = c.url.substr(8);
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  std::string host = rest;
  int port = 443;
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = std::atoi(rest.substr(colon + 1).c_str());
  }
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto cli = std::make_unique<httplib::SSLClient>(host, port);
  cli->set_ca_cert_path(c.ca_path.c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(30, 0);
  if (!c.token.empty()) cli->set_bearer_token_auth(c.token.c_str());
  return cli;
}
}  // namespace

Result<json> ApiClient::Handle(int status, const std::string& body, const std::string& what) {
  json j = json::parse(body, nullptr, false);
  if (status == 200) {
    if (j.is_discarded()) return Status::Corruption("the vault answered " + what + " with invalid JSON");
    return j;
  }
  std::string message = "HTTP " + std::to_string(status);
  Code code = Code::kIOError;
  if (!j.is_discarded() && j.contains("error")) {
    message = j["error"].value("message", message);
    std::string c = j["error"].value("code", "");
    for (Code k : {Code::kNotFound, Code::kInvalidArgument, Code::kCorruption, Code::kIOError, Code::kNoSpace,
                   Code::kBusy, Code::kUnauthenticated, Code::kFailedPrecondition})
      if (CodeName(k) == c) code = k;
  }
  return Status(code, message);
}

Result<json> ApiClient::Get(const std::string& path) {
  auto cli = MakeClient(config_);
  auto res = cli->Get(path.c_str());
  if (!res) return Status::IOError("cannot reach the vault at " + config_.url + ": " + httplib::to_string(res.error()));
  return Handle(res->status, res->body, "GET " + path);
}

Result<json> ApiClient::Post(const std::string& path, const json& body) {
  auto cli = MakeClient(config_);
  auto res = cli->Post(path.c_str(), body.dump(), "application/json");
  if (!res) return Status::IOError("cannot reach the vault at " + config_.url + ": " + httplib::to_string(res.error()));
  return Handle(res->status, res->body, "POST " + path);
}

Result<json> ApiClient::Delete(const std::string& path) {
  auto cli = MakeClient(config_);
  auto res = cli->Delete(path.c_str());
  if (!res) return Status::IOError("cannot reach the vault at " + config_.url + ": " + httplib::to_string(res.error()));
  return Handle(res->status, res->body, "DELETE " + path);
}

}  // namespace lifeline::api
