// Checked fields of the REST API's JSON request bodies: a missing field takes its fallback,
// a wrong type or an out-of-range number is InvalidArgument naming the field, never an
// exception or a silent conversion (a float where an integer belongs is refused).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace lifeline::vault {

inline Status CheckRequest(const nlohmann::json& request) {
  if (!request.is_null() && !request.is_object())
    return Status::InvalidArgument("the request must be a JSON object");
  return Status::Ok();
}

// Refuses fields outside `known`, so a misspelt option is not silently ignored.
inline Status CheckKnownFields(const nlohmann::json& request,
                               std::initializer_list<const char*> known) {
  LL_RETURN_IF_ERROR(CheckRequest(request));
  if (request.is_null()) return Status::Ok();
  for (const auto& [key, value] : request.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Status::InvalidArgument("unknown field '" + key.substr(0, 64) + "' (known: " + list +
                                     ")");
    }
  }
  return Status::Ok();
}

inline Result<std::string> StrField(const nlohmann::json& request, const char* key,
                                    const std::string& fallback) {
  if (!request.is_object() || !request.contains(key)) return fallback;
  if (!request[key].is_string())
    return Status::InvalidArgument(std::string(key) + " must be a string");
  return request[key].get<std::string>();
}

inline Result<bool> BoolField(const nlohmann::json& request, const char* key, bool fallback) {
  if (!request.is_object() || !request.contains(key)) return fallback;
  if (!request[key].is_boolean())
    return Status::InvalidArgument(std::string(key) + " must be true or false");
  return request[key].get<bool>();
}

inline Result<int64_t> IntField(const nlohmann::json& request, const char* key, int64_t fallback,
                                int64_t min, int64_t max) {
  if (!request.is_object() || !request.contains(key)) return fallback;
  const nlohmann::json& v = request[key];
  bool in_range = false;
  int64_t n = 0;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(max) && static_cast<int64_t>(u) >= min;
    n = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    n = v.get<int64_t>();
    in_range = n >= min && n <= max;
  } else {
    return Status::InvalidArgument(std::string(key) + " must be an integer");
  }
  if (!in_range) {
    return Status::InvalidArgument(std::string(key) + " must be " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return n;
}

}  // namespace lifeline::vault
