// Typed, position-aware accessors over YamlDoc nodes. Every scalar is parsed by hand so the
// rules are ours (booleans are true/false only, integers are plain decimal).
#include "net/yaml_reader.h"

#include <algorithm>
#include <charconv>

#include "net/names.h"

namespace lifeline::net {

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

bool YamlReader::ExpectMap(const YamlNode& n, const std::string& what,
                           std::initializer_list<const char*> keys) {
  if (!n.IsMap()) {
    Error(n, what + " must be a mapping of keys to values");
    return false;
  }
  // Maps have a handful of keys: linear scans beat building sets for every element.
  for (size_t i = 0; i < n.pairs(); ++i) {
    const YamlNode& kn = n.key(i);
    if (!kn.IsScalar()) {
      Error(kn, "keys of " + what + " must be plain words");
      continue;
    }
    std::string_view k = kn.text;
    bool dup = false;
    for (size_t j = 0; j < i && !dup; ++j) dup = n.key(j).IsScalar() && n.key(j).text == k;
    if (dup) {
      Error(kn, "duplicate key '" + std::string(k) + "' in " + what);  // YAML keeps only one
      continue;
    }
    bool known = false;
    for (const char* a : keys) known = known || k == a;
    if (!known) {
      std::vector<std::string> allowed(keys.begin(), keys.end());
      Error(kn, "unknown key '" + std::string(k) + "' in " + what + DidYouMean(k, allowed));
    }
  }
  return true;
}

YamlItems YamlReader::Seq(const YamlNode& map, const char* key, bool required) {
  const YamlNode* n = map.Get(key);
  if (!n || n->IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return {};
  }
  if (!n->IsSequence()) {
    Error(*n, std::string("'") + key + "' must be a list");
    return {};
  }
  return YamlItems(n->items);
}

const YamlNode* YamlReader::Scalar(const YamlNode& map, const char* key, bool required) {
  const YamlNode* n = map.Get(key);
  if (!n || n->IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return nullptr;
  }
  if (!n->IsScalar()) {
    Error(*n, std::string("'") + key + "' must be a single value, not a list or mapping");
    return nullptr;
  }
  return n;
}

bool YamlReader::Str(const YamlNode& map, const char* key, std::string* out, bool required) {
  const YamlNode* n = Scalar(map, key, required);
  if (!n) return false;
  if (n->text.empty()) {
    Error(*n, std::string("'") + key + "' must not be empty");
    return false;
  }
  out->assign(n->text);
  return true;
}

bool YamlReader::Bool(const YamlNode& map, const char* key, bool* out) {
  const YamlNode* n = Scalar(map, key, false);
  if (!n) return false;
  std::string_view s = n->text;
  if (s == "true" || s == "True") {
    *out = true;
  } else if (s == "false" || s == "False") {
    *out = false;
  } else {
    Error(*n, std::string("'") + key + "' must be true or false, not '" + std::string(s) + "'");
    return false;
  }
  return true;
}

bool YamlReader::Int(const YamlNode& map, const char* key, int64_t min, int64_t max, int64_t* out,
                     bool required) {
  const YamlNode* n = Scalar(map, key, required);
  if (!n) return false;
  std::string_view s = n->text;
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    Error(*n, std::string("'") + key + "' must be an integer, not '" + std::string(s) + "'");
    return false;
  }
  if (v < min || v > max) {
    Error(*n, std::string("'") + key + "' = " + std::string(s) + " is out of range [" +
                  std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  *out = v;
  return true;
}

bool YamlReader::Enum(const YamlNode& map, const char* key,
                      std::initializer_list<std::string_view> values, std::string* out,
                      bool required) {
  const YamlNode* n = Scalar(map, key, required);
  if (!n) return false;
  std::string_view s = n->text;
  for (std::string_view v : values) {
    if (v == s) {
      out->assign(s);
      return true;
    }
  }
  std::string list;
  std::vector<std::string> names;
  for (std::string_view v : values) {
    list += (list.empty() ? "" : ", ") + std::string(v);
    names.emplace_back(v);
  }
  Error(*n, std::string("'") + key + "' must be one of " + list + ", not '" + std::string(s) + "'" +
                DidYouMean(s, names));
  return false;
}

bool YamlReader::ScalarToPrefix(const YamlNode& n, IpPrefix* out) {
  if (!n.IsScalar()) {
    Error(n, "expected a CIDR prefix such as 10.1.0.0/24");
    return false;
  }
  auto r = IpPrefix::Parse(n.text);
  if (!r.ok()) {
    Error(n, r.status().message());
    return false;
  }
  *out = *r;
  return true;
}

bool YamlReader::Prefix(const YamlNode& map, const char* key, std::optional<IpPrefix>* out,
                        bool required) {
  const YamlNode* n = map.Get(key);
  if (!n || n->IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return false;
  }
  IpPrefix p;
  if (!ScalarToPrefix(*n, &p)) return false;
  *out = p;
  return true;
}

bool YamlReader::Address(const YamlNode& map, const char* key, std::optional<IpPrefix>* out,
                         bool required) {
  const YamlNode* n = Scalar(map, key, required);
  if (!n) return false;
  auto r = IpPrefix::ParseAddress(n->text);
  if (!r.ok()) {
    Error(*n, r.status().message());
    return false;
  }
  *out = *r;
  return true;
}

std::vector<IpPrefix> YamlReader::Prefixes(const YamlNode& map, const char* key, bool required) {
  std::vector<IpPrefix> out;
  const YamlNode* n = map.Get(key);
  if (!n || n->IsNull()) {
    if (required) Error(map, std::string("missing required key '") + key + "'");
    return out;
  }
  if (n->IsScalar()) {
    IpPrefix p;
    if (ScalarToPrefix(*n, &p)) out.push_back(p);
    return out;
  }
  if (!n->IsSequence()) {
    Error(*n, std::string("'") + key + "' must be a list of CIDR prefixes");
    return out;
  }
  out.reserve(n->items.size());
  for (const YamlNode* e : n->items) {
    IpPrefix p;
    if (ScalarToPrefix(*e, &p)) out.push_back(p);
  }
  return out;
}

std::vector<std::string> YamlReader::Strings(const YamlNode& map, const char* key) {
  std::vector<std::string> out;
  for (const YamlNode& e : Seq(map, key)) {
    if (!e.IsScalar() || e.text.empty()) {
      Error(e, std::string("'") + key + "' must be a list of names");
      continue;
    }
    out.emplace_back(e.text);
  }
  return out;
}

}  // namespace lifeline::net
