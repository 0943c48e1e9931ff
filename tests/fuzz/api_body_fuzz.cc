// Fuzzes the REST API's JSON request bodies on a real vault (its catalog and store in a
// temporary directory, no listener): the first byte picks the route, the rest is the body.
// Every body is answered with a result or a clean error, never a crash, an exception or
// undefined behaviour; whatever a route accepted must read back from the catalog.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "control/launcher.h"
#include "vault/json_fields.h"
#include "vault/recovery_config.h"
#include "vault/vault.h"

namespace {

using lifeline::Code;
using nlohmann::json;

struct Fixture {
  std::unique_ptr<lifeline::vault::Vault> vault;
  lifeline::control::LauncherRegistry launchers = lifeline::control::LauncherRegistry::WithBuiltins();
  std::string dir;
};

Fixture* Setup() {
  auto* f = new Fixture;
  // /dev/shm when there is one: the catalog syncs every write.
  std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/ll-api-fuzz.XXXXXX";
  if (!mkdtemp(tmpl.data())) __builtin_trap();
  f->dir = tmpl + "/vault";
  if (!lifeline::vault::Vault::Init(f->dir, {}).ok()) __builtin_trap();
  lifeline::vault::VaultOptions o;
  o.dir = f->dir;
  auto v = lifeline::vault::Vault::Open(o);
  if (!v.ok()) __builtin_trap();
  f->vault = std::move(*v);
  // One machine for the per-machine routes.
  lifeline::control::Machine m;
  m.name = "web1";
  auto policy = f->vault->catalog()->GetPolicyByName("default");
  if (!policy.ok()) __builtin_trap();
  m.policy_id = policy->id;
  if (!f->vault->catalog()->AddMachine(m).ok()) __builtin_trap();
  return f;
}

// Seeds name files on the vault's host; a fuzzed path could make it read anything.
void DropSeeds(json& body) {
  if (!body.is_object() || !body.contains("disks") || !body["disks"].is_array()) return;
  for (auto& d : body["disks"])
    if (d.is_object()) d.erase("seed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = Setup();
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), std::min<size_t>(size - 1, 8192));
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  auto* v = f->vault.get();
  auto* cat = v->catalog();
  lifeline::Status status;
  switch (data[0] % 10) {
    case 0: status = v->PutPolicy(body).status(); break;
    case 1: DropSeeds(body); status = v->Protect(body).status(); break;
    case 2: status = v->CreateGroup(body).status(); break;
    case 3: status = v->Report("site1", body); break;
    case 4: status = v->RegisterAgent(body).status(); break;
    case 5: status = lifeline::vault::PutNetworkMapping(cat, body).status(); break;
    case 6: status = lifeline::vault::PutStaticIp(cat, body).status(); break;
    case 7: status = lifeline::vault::PutNic(cat, "web1", body).status(); break;
    case 8:
      status = lifeline::vault::SetMachineConfig(cat, f->launchers, "web1", body).status();
      break;
    case 9: status = lifeline::vault::CheckRequest(body); break;
  }
  // A request is never "corrupt data": that code is for what lifeline itself stored.
  if (status.code() == Code::kCorruption) __builtin_trap();
  // Whatever was accepted reads back.
  if (!cat->LoadNetworkMap().ok()) __builtin_trap();
  if (!lifeline::vault::GetMachineConfig(cat, "web1").ok()) __builtin_trap();
  if (!v->ListMachines().ok() || !v->ListPolicies().ok()) __builtin_trap();
  return 0;
}
