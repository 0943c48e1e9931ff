// Strict typed access to YamlDoc nodes, collecting errors with their positions.
// Internal to the topology parser. Not thread-safe (one instance per parse).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/model.h"
#include "net/prefix.h"
#include "net/yaml_doc.h"

namespace lifeline::net {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  static Loc LocOf(const YamlNode& n) { return n.loc; }
  void Error(const Loc& loc, const std::string& message);
  void Error(const YamlNode& n, const std::string& message) { Error(LocOf(n), message); }
  bool has_errors() const { return !errors_.empty(); }
  // "FILE:LINE:COL: what", ordered by position in the file.
  std::vector<std::string> SortedErrors() const;
  int dropped_errors() const { return dropped_; }
  const std::string& file() const { return file_; }

  // REQUIRES: `n` is a map (else reports and returns false). Reports every key not in
  // `keys`, with the closest allowed key as a suggestion.
  bool ExpectMap(const YamlNode& n, const std::string& what,
                 std::initializer_list<const char*> keys);
  // A sequence, or an absent/null node (empty). Reports other shapes.
  YamlItems Seq(const YamlNode& map, const char* key, bool required = false);
  // The value of `key` unless absent or null.
  static const YamlNode* Present(const YamlNode& map, const char* key) {
    const YamlNode* n = map.Get(key);
    return n && !n->IsNull() ? n : nullptr;
  }

  bool Str(const YamlNode& map, const char* key, std::string* out, bool required);
  bool Bool(const YamlNode& map, const char* key, bool* out);
  bool Int(const YamlNode& map, const char* key, int64_t min, int64_t max, int64_t* out,
           bool required);
  template <typename T>
  bool IntAs(const YamlNode& map, const char* key, int64_t min, int64_t max, T* out,
             bool required) {
    int64_t v = 0;
    if (!Int(map, key, min, max, &v, required)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  // One of `values` (case-sensitive) with a suggestion on a typo.
  bool Enum(const YamlNode& map, const char* key, std::initializer_list<std::string_view> values,
            std::string* out, bool required);
  bool Prefix(const YamlNode& map, const char* key, std::optional<IpPrefix>* out, bool required);
  bool Address(const YamlNode& map, const char* key, std::optional<IpPrefix>* out, bool required);
  // A list of prefixes (a single scalar is accepted as a list of one).
  std::vector<IpPrefix> Prefixes(const YamlNode& map, const char* key, bool required);
  // A list of scalar strings.
  std::vector<std::string> Strings(const YamlNode& map, const char* key);

  bool ScalarToPrefix(const YamlNode& n, IpPrefix* out);

 private:
  // The scalar at `key`; nullptr (reported if required or not a scalar) otherwise.
  const YamlNode* Scalar(const YamlNode& map, const char* key, bool required);

  static constexpr int kMaxErrors = 50;
  std::string file_;
  std::vector<std::pair<Loc, std::string>> errors_;
  int dropped_ = 0;
};

}  // namespace lifeline::net
