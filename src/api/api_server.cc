#include "api/api_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "control/catalog.h"
#include "vault/recovery_config.h"
#include "vault/recovery_ops.h"
#include "vault/vault.h"
#include "wire/credentials.h"
#include "wire/transport.h"

namespace lifeline::api {

using nlohmann::json;

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kNotFound: return 404;
    case Code::kFailedPrecondition: return 409;
    case Code::kBusy: return 503;
    case Code::kNoSpace: return 507;
    default: return 500;
  }
}

namespace {
constexpr size_t kMaxBodyBytes = 1u << 20;

void Reply(httplib::Response& res, const Result<json>& r) {
  if (r.ok()) {
    res.status = 200;
    res.set_content(r->dump(2), "application/json");
    return;
  }
  res.status = HttpStatusFor(r.status().code());
  json e = {{"error", {{"code", std::string(CodeName(r.status().code()))}, {"message", r.status().message()}}}};
  res.set_content(e.dump(2), "application/json");
}

std::string Bearer(const httplib::Request& req) {
  std::string h = req.get_header_value("Authorization");
  if (h.rfind("Bearer ", 0) == 0) return h.substr(7);
  return "";
}

Result<json> Body(const httplib::Request& req) {
  if (req.body.size() > kMaxBodyBytes) return Status::InvalidArgument("request body larger than 1 MiB");
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("request body is not valid JSON");
  return j;
}
}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(vault::Vault* vault, const std::string& listen) {
  LL_ASSIGN_OR_RETURN(auto ep, wire::Endpoint::ParseListen(listen));
  std::unique_ptr<ApiServer> s(new ApiServer());
  s->vault_ = vault;
  std::string cert = JoinPath(vault->pki_dir(), wire::kServerCertFile);
  std::string key = JoinPath(vault->pki_dir(), wire::kServerKeyFile);
  s->server_ = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
  if (!s->server_->is_valid()) return Status::IOError("cannot load the vault's TLS certificate for the API");
  s->server_->set_payload_max_length(kMaxBodyBytes);
  s->server_->set_read_timeout(10, 0);
  LL_ASSIGN_OR_RETURN(
      s->recovery_,
      vault::RecoveryOps::Create(
          vault->store(), vault->catalog(),
          {.dir = vault->options().dir,
           .job_timeout_ms = 25000,
           .points_received =
               [vault](const std::string& disk_id) { return vault->PointsReceived(disk_id); },
           .agent_report =
               [vault](const std::string& disk_id) { return vault->AgentReport(disk_id); },
           .network_driver = vault->options().network_driver}));
  s->Routes();
  int port = ep.port == 0 ? s->server_->bind_to_any_port(ep.host) : (s->server_->bind_to_port(ep.host, ep.port) ? ep.port : -1);
  if (port <= 0) return Status::IOError("cannot listen on " + listen + " for the API");
  s->port_ = uint16_t(port);
  httplib::SSLServer* raw = s->server_.get();
  s->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  return s;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void ApiServer::Routes() {
  auto& s = *server_;
  vault::Vault* v = vault_;
  // Admin routes: the admin token.
  auto admin = [v](auto fn) {
    return [v, fn](const httplib::Request& req, httplib::Response& res) {
      auto ok = v->IsAdminToken(Bearer(req));
      if (!ok.ok() || !*ok) return Reply(res, Status::Unauthenticated("missing or wrong admin token"));
      Reply(res, fn(req));
    };
  };
  // Agent routes: the agent's own token, and only its own id in the path.
  auto agent = [v](auto fn) {
    return [v, fn](const httplib::Request& req, httplib::Response& res) {
      auto id = v->AgentForToken(Bearer(req));
      if (!id.ok() || *id != req.matches[1].str()) return Reply(res, Status::Unauthenticated("missing or wrong agent token"));
      Reply(res, fn(req, *id));
    };
  };
  s.Post("/v1/agents/register", [v](const httplib::Request& req, httplib::Response& res) {
    auto body = Body(req);
    if (!body.ok()) return Reply(res, body.status());
    Reply(res, v->RegisterAgent(*body));
  });
  s.Post("/v1/registration-keys", admin([v](const httplib::Request&) { return v->CreateRegistrationKey(); }));
  s.Get("/v1/health", admin([v](const httplib::Request&) { return v->Health(); }));
  s.Get("/v1/policies", admin([v](const httplib::Request&) { return v->ListPolicies(); }));
  s.Post("/v1/policies", admin([v](const httplib::Request& req) -> Result<json> {
    LL_ASSIGN_OR_RETURN(json body, Body(req));
    return v->PutPolicy(body);
  }));
  s.Get("/v1/groups", admin([v](const httplib::Request&) { return v->ListGroups(); }));
  s.Post("/v1/groups", admin([v](const httplib::Request& req) -> Result<json> {
    LL_ASSIGN_OR_RETURN(json body, Body(req));
    return v->CreateGroup(body);
  }));
  s.Get(R"(/v1/groups/([A-Za-z0-9._-]+)/points)",
        admin([v](const httplib::Request& req) { return v->GroupPoints(req.matches[1].str()); }));
  s.Post(R"(/v1/groups/([A-Za-z0-9._-]+)/points)", admin([v](const httplib::Request& req) -> Result<json> {
    LL_ASSIGN_OR_RETURN(json body, req.body.empty() ? Result<json>(json::object()) : Body(req));
    return v->TakeGroupPoint(req.matches[1].str(), body);
  }));
  s.Get("/v1/machines", admin([v](const httplib::Request&) { return v->ListMachines(); }));
  s.Post("/v1/machines", admin([v](const httplib::Request& req) -> Result<json> {
    LL_ASSIGN_OR_RETURN(json body, Body(req));
    return v->Protect(body);
  }));
  s.Get(R"(/v1/machines/([A-Za-z0-9._-]+))",
        admin([v](const httplib::Request& req) { return v->MachineStatus(req.matches[1].str()); }));
  // Machine delete: ?force=true&keep_replica=true (each optional).
  vault::RecoveryOps* rops = recovery_.get();
  s.Delete(R"(/v1/machines/([A-Za-z0-9._-]+))",
           admin([v, rops](const httplib::Request& req) -> Result<json> {
             json body = json::object();
             for (const auto& [key, value] : req.params) {
               if (key != "force" && key != "keep_replica")
                 return Status::InvalidArgument("unknown parameter '" + key.substr(0, 64) +
                                                "' (known: force, keep_replica)");
               if (value != "true" && value != "false" && value != "1" && value != "0")
                 return Status::InvalidArgument(key + " must be true or false, not '" +
                                                value.substr(0, 64) + "'");
               body[key] = value == "true" || value == "1";
             }
             return v->DeleteMachine(req.matches[1].str(), body, [rops](const control::Machine& m) {
               return rops->ReleaseMachine(m);
             });
           }));
  s.Get(R"(/v1/machines/([A-Za-z0-9._-]+)/points)",
        admin([v](const httplib::Request& req) { return v->Points(req.matches[1].str()); }));
  // Recovery operations (recovery_ops.h); each runs as a job and answers when it ends.
  auto* r = recovery_.get();
  auto rop = [&](const std::string& path, auto fn) {
    s.Post(R"(/v1/machines/([A-Za-z0-9._-]+)/)" + path, admin([fn](const httplib::Request& req) -> Result<json> {
      LL_ASSIGN_OR_RETURN(json body, req.body.empty() ? Result<json>(json::object()) : Body(req));
      return fn(req.matches[1].str(), body);
    }));
  };
  rop("drill", [r](const std::string& m, const json& b) { return r->DrillStart(m, b); });
  rop("drill/cleanup", [r](const std::string& m, const json& b) { return r->DrillCleanup(m, b); });
  rop("failover", [r](const std::string& m, const json& b) { return r->FailoverStart(m, b); });
  rop("failover/change-point", [r](const std::string& m, const json& b) { return r->FailoverChangePoint(m, b); });
  rop("failover/cancel", [r](const std::string& m, const json&) { return r->FailoverCancel(m); });
  rop("failover/commit", [r](const std::string& m, const json&) { return r->FailoverCommit(m); });
  rop("reprotect", [r](const std::string& m, const json& b) { return r->Reprotect(m, b); });
  rop("failback", [r](const std::string& m, const json& b) { return r->Failback(m, b); });
  s.Post(R"(/v1/plans/([A-Za-z0-9._-]+)/run)", admin([r](const httplib::Request& req) -> Result<json> {
    LL_ASSIGN_OR_RETURN(json body, Body(req));
    return r->PlanRun(req.matches[1].str(), body);
  }));
  // Recovery configuration (recovery_config.h): launcher, size, NICs, network mapping.
  control::Catalog* cat = v->catalog();
  auto body_or_empty = [](const httplib::Request& req) -> Result<json> {
    return req.body.empty() ? Result<json>(json::object()) : Body(req);
  };
  s.Get(R"(/v1/machines/([A-Za-z0-9._-]+)/config)", admin([cat](const httplib::Request& req) {
          return vault::GetMachineConfig(cat, req.matches[1].str());
        }));
  s.Post(R"(/v1/machines/([A-Za-z0-9._-]+)/config)",
         admin([cat, r, body_or_empty](const httplib::Request& req) -> Result<json> {
           LL_ASSIGN_OR_RETURN(json body, body_or_empty(req));
           return vault::SetMachineConfig(cat, r->launchers(), req.matches[1].str(), body);
         }));
  s.Post(R"(/v1/machines/([A-Za-z0-9._-]+)/nics)",
         admin([cat](const httplib::Request& req) -> Result<json> {
           LL_ASSIGN_OR_RETURN(json body, Body(req));
           return vault::PutNic(cat, req.matches[1].str(), body);
         }));
  s.Delete(R"(/v1/machines/([A-Za-z0-9._-]+)/nics/([0-9]{1,2}))",
           admin([cat](const httplib::Request& req) {
             return vault::DeleteNic(cat, req.matches[1].str(), std::stoi(req.matches[2].str()));
           }));
  s.Get(R"(/v1/machines/([A-Za-z0-9._-]+)/network)", admin([cat](const httplib::Request& req) {
          std::string mode = req.has_param("mode") ? req.get_param_value("mode") : "recovery";
          return vault::PreviewNics(cat, req.matches[1].str(), mode);
        }));
  s.Get("/v1/network/mappings",
        admin([cat](const httplib::Request&) { return vault::ListNetworkMappings(cat); }));
  s.Post("/v1/network/mappings", admin([cat](const httplib::Request& req) -> Result<json> {
           LL_ASSIGN_OR_RETURN(json body, Body(req));
           return vault::PutNetworkMapping(cat, body);
         }));
  s.Delete(R"(/v1/network/mappings/([A-Za-z0-9._-]+))", admin([cat](const httplib::Request& req) {
             return vault::DeleteNetworkMapping(cat, req.matches[1].str());
           }));
  s.Get("/v1/network/static-ips", admin([cat](const httplib::Request& req) {
          return vault::ListStaticIps(cat, req.has_param("machine") ? req.get_param_value("machine") : "");
        }));
  s.Post("/v1/network/static-ips", admin([cat](const httplib::Request& req) -> Result<json> {
           LL_ASSIGN_OR_RETURN(json body, Body(req));
           return vault::PutStaticIp(cat, body);
         }));
  s.Delete(R"(/v1/network/static-ips/([A-Za-z0-9._-]+)/([0-9]{1,2})/(recovery|drill))",
           admin([cat](const httplib::Request& req) {
             return vault::DeleteStaticIp(cat, req.matches[1].str(), std::stoi(req.matches[2].str()),
                                          req.matches[3].str());
           }));
  s.Get(R"(/v1/machines/([A-Za-z0-9._-]+)/recovery)",
        admin([r](const httplib::Request& req) { return r->Recovery(req.matches[1].str()); }));
  s.Get(R"(/v1/agents/([A-Za-z0-9._-]+)/assignments)",
        agent([v](const httplib::Request&, const std::string& id) { return v->Assignments(id); }));
  s.Post(R"(/v1/agents/([A-Za-z0-9._-]+)/report)",
         agent([v](const httplib::Request& req, const std::string& id) -> Result<json> {
           LL_ASSIGN_OR_RETURN(json body, Body(req));
           LL_RETURN_IF_ERROR(v->Report(id, body));
           return json{{"ok", true}};
         }));
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      json e = {{"error", {{"code", res.status == 404 ? "NotFound" : "InvalidArgument"},
                           {"message", res.status == 404 ? "no such route" : "bad request"}}}};
      res.set_content(e.dump(2), "application/json");
    }
  });
}

}  // namespace lifeline::api
