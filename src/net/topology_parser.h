// Reads a topology file (NETWORK_MODEL.md §1) into the model. Strict: unknown keys, wrong
// types, bad CIDRs, duplicate names and dangling references are errors, each with
// file:line:column and, for typos, a "did you mean". Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "net/model.h"

namespace lifeline::net {

// Files larger than this are refused before parsing (bounds memory on hostile input).
inline constexpr size_t kMaxTopologyBytes = 64u << 20;
// At most this many errors are reported; the rest are counted.
inline constexpr int kMaxParseErrors = 50;

// Parses YAML text; `file_name` is used in messages and stored in Topology::file.
// On failure returns InvalidArgument whose message holds one "FILE:LINE:COL: what" per line.
Result<Topology> ParseTopology(std::string_view yaml_text, const std::string& file_name);

// Reads `path` and parses it. NotFound / IOError if the file cannot be read.
Result<Topology> LoadTopology(const std::string& path);

}  // namespace lifeline::net
