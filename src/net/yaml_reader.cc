// Typed, position-aware accessors over yaml-cpp. yaml-cpp's own conversions throw and
// accept loose forms; here every scalar is parsed by hand so the rules are ours.
#include "net/yaml_reader.h"

#include <algorithm>
#include <charconv>

#include "net/names.h"

namespace lifeline::net {

Loc YamlReader::LocOf(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

void YamlReader::Error(const Loc& loc, const std::string& message) {
  if (static_cast<int>(errors_.size()) >= kMaxErrors) {
    ++dropped_;
    return;
  }
  errors_.emplace_back(loc, file_ + ":" + std::to_string(loc.line) + ":" +
                                std::to_string(loc.column) + ": " + message);
}

std::vector<std::string> YamlReader::SortedErrors() const {
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line
                                        : a.first.column < b.first.column;
  });
  std::vector<std::string> out;
  for (auto& e : sorted) out.push_back(std::move(e.second));
  return out;
}

bool YamlReader::ExpectMap(const YAML::Node& n, const std::string& what,
                           std::initializer_list<const char*> keys) {
  if (!n.IsMap()) {
    Error(n, what + " must be a mapping of keys to values");
    return false;
  }
  std::vector<std::string> allowed(keys.begin(), keys.end());
  std::vector<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(it->first, "keys of " + what + " must be plain words");
      continue;
    }
    const std::string& k = it->first.Scalar();
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
      Error(it->first, "duplicate key '" + k + "' in " + what);  // YAML keeps only one
      continue;
    }
    seen.push_back(k);
    bool known = false;
    for (const auto& a : allowed) known = known || a == k;
    if (!known) {
      Error(it->first, "unknown key '" + k + "' in " + what + DidYouMean(k, allowed));
    }
  }
  return true;
}

std::vector<YAML::Node> YamlReader::Seq(const YAML::Node& map, const char* key, bool required) {
  std::vector<YAML::Node> out;
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return out;
  }
  if (!n.IsSequence()) {
    Error(n, std::string("'") + key + "' must be a list");
    return out;
  }
  for (const auto& e : n) out.push_back(e);
  return out;
}

bool YamlReader::Scalar(const YAML::Node& map, const char* key, std::string* out, bool required) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return false;
  }
  if (!n.IsScalar()) {
    Error(n, std::string("'") + key + "' must be a single value, not a list or mapping");
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool YamlReader::Str(const YAML::Node& map, const char* key, std::string* out, bool required) {
  std::string s;
  if (!Scalar(map, key, &s, required)) return false;
  if (s.empty()) {
    Error(map[key], std::string("'") + key + "' must not be empty");
    return false;
  }
  *out = s;
  return true;
}

bool YamlReader::Bool(const YAML::Node& map, const char* key, bool* out) {
  std::string s;
  if (!Scalar(map, key, &s, false)) return false;
  if (s == "true" || s == "True") {
    *out = true;
  } else if (s == "false" || s == "False") {
    *out = false;
  } else {
    Error(map[key], std::string("'") + key + "' must be true or false, not '" + s + "'");
    return false;
  }
  return true;
}

bool YamlReader::Int(const YAML::Node& map, const char* key, int64_t min, int64_t max, int64_t* out,
                     bool required) {
  std::string s;
  if (!Scalar(map, key, &s, required)) return false;
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    Error(map[key], std::string("'") + key + "' must be an integer, not '" + s + "'");
    return false;
  }
  if (v < min || v > max) {
    Error(map[key], std::string("'") + key + "' = " + s + " is out of range [" +
                        std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  *out = v;
  return true;
}

bool YamlReader::Enum(const YAML::Node& map, const char* key,
                      const std::vector<std::string>& values, std::string* out, bool required) {
  std::string s;
  if (!Scalar(map, key, &s, required)) return false;
  for (const auto& v : values) {
    if (v == s) {
      *out = s;
      return true;
    }
  }
  std::string list;
  for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
  Error(map[key], std::string("'") + key + "' must be one of " + list + ", not '" + s + "'" +
                      DidYouMean(s, values));
  return false;
}

bool YamlReader::ScalarToPrefix(const YAML::Node& n, IpPrefix* out) {
  if (!n.IsScalar()) {
    Error(n, "expected a CIDR prefix such as 10.1.0.0/24");
    return false;
  }
  auto r = IpPrefix::Parse(n.Scalar());
  if (!r.ok()) {
    Error(n, r.status().message());
    return false;
  }
  *out = *r;
  return true;
}

bool YamlReader::Prefix(const YAML::Node& map, const char* key, std::optional<IpPrefix>* out,
                        bool required) {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return false;
  }
  IpPrefix p;
  if (!ScalarToPrefix(n, &p)) return false;
  *out = p;
  return true;
}

bool YamlReader::Address(const YAML::Node& map, const char* key, std::optional<IpPrefix>* out,
                         bool required) {
  std::string s;
  if (!Scalar(map, key, &s, required)) return false;
  auto r = IpPrefix::ParseAddress(s);
  if (!r.ok()) {
    Error(map[key], r.status().message());
    return false;
  }
  *out = *r;
  return true;
}

std::vector<IpPrefix> YamlReader::Prefixes(const YAML::Node& map, const char* key, bool required) {
  std::vector<IpPrefix> out;
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return out;
  }
  if (n.IsScalar()) {
    IpPrefix p;
    if (ScalarToPrefix(n, &p)) out.push_back(p);
    return out;
  }
  if (!n.IsSequence()) {
    Error(n, std::string("'") + key + "' must be a list of CIDR prefixes");
    return out;
  }
  out.reserve(n.size());
  for (const auto& e : n) {
    IpPrefix p;
    if (ScalarToPrefix(e, &p)) out.push_back(p);
  }
  return out;
}

std::vector<std::string> YamlReader::Strings(const YAML::Node& map, const char* key) {
  std::vector<std::string> out;
  for (const auto& e : Seq(map, key)) {
    if (!e.IsScalar() || e.Scalar().empty()) {
      Error(e, std::string("'") + key + "' must be a list of names");
      continue;
    }
    out.push_back(e.Scalar());
  }
  return out;
}

}  // namespace lifeline::net
