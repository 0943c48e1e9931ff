// Fuzzes the continuous re-protect request check (vault/reverse_replication.h
// ParseReverseConfig): any JSON gives a configuration with the required fields or a clean
// InvalidArgument, never a crash.
#include <nlohmann/json.hpp>
#include <string>

#include "vault/reverse_replication.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 4096));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  auto r = lifeline::vault::ParseReverseConfig(j);
  if (!r.ok()) {
    if (r.status().code() != lifeline::Code::kInvalidArgument) __builtin_trap();
    return 0;
  }
  for (const char* key : {"vault", "ca", "token", "agent"})
    if (!(*r)[key].is_string() || (*r)[key].get<std::string>().empty()) __builtin_trap();
  if ((*r)["vault"].get<std::string>().rfind("https://", 0) != 0) __builtin_trap();
  return 0;
}
