// Strict typed access to yaml-cpp nodes, collecting errors with their positions.
// Internal to the topology parser. Not thread-safe (one instance per parse).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "net/model.h"
#include "net/prefix.h"

namespace lifeline::net {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  static Loc LocOf(const YAML::Node& n);
  void Error(const Loc& loc, const std::string& message);
  void Error(const YAML::Node& n, const std::string& message) { Error(LocOf(n), message); }
  bool has_errors() const { return !errors_.empty(); }
  // "FILE:LINE:COL: what", ordered by position in the file.
  std::vector<std::string> SortedErrors() const;
  int dropped_errors() const { return dropped_; }
  const std::string& file() const { return file_; }

  // REQUIRES: `n` is a map (else reports and returns false). Reports every key not in
  // `keys`, with the closest allowed key as a suggestion.
  bool ExpectMap(const YAML::Node& n, const std::string& what,
                 std::initializer_list<const char*> keys);
  // A sequence, or an absent/null node (empty). Reports other shapes.
  std::vector<YAML::Node> Seq(const YAML::Node& map, const char* key, bool required = false);

  bool Str(const YAML::Node& map, const char* key, std::string* out, bool required);
  bool Bool(const YAML::Node& map, const char* key, bool* out);
  bool Int(const YAML::Node& map, const char* key, int64_t min, int64_t max, int64_t* out,
           bool required);
  template <typename T>
  bool IntAs(const YAML::Node& map, const char* key, int64_t min, int64_t max, T* out,
             bool required) {
    int64_t v = 0;
    if (!Int(map, key, min, max, &v, required)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  // One of `values` (case-sensitive) with a suggestion on a typo.
  bool Enum(const YAML::Node& map, const char* key, const std::vector<std::string>& values,
            std::string* out, bool required);
  bool Prefix(const YAML::Node& map, const char* key, std::optional<IpPrefix>* out, bool required);
  bool Address(const YAML::Node& map, const char* key, std::optional<IpPrefix>* out, bool required);
  // A list of prefixes (a single scalar is accepted as a list of one).
  std::vector<IpPrefix> Prefixes(const YAML::Node& map, const char* key, bool required);
  // A list of scalar strings.
  std::vector<std::string> Strings(const YAML::Node& map, const char* key);

  bool ScalarToPrefix(const YAML::Node& n, IpPrefix* out);

 private:
  bool Scalar(const YAML::Node& map, const char* key, std::string* out, bool required);

  static constexpr int kMaxErrors = 50;
  std::string file_;
  std::vector<std::pair<Loc, std::string>> errors_;
  int dropped_ = 0;
};

}  // namespace lifeline::net
