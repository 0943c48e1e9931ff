// Helpers for the lab integration tests: run the lifeline binary, parse its JSON, check that
// nothing of a lab is left behind. Single-threaded test use.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lifeline::lab::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};
// Runs `lifeline ARGS...` (the binary under test), with an optional PATH prefix.
CliResult Lifeline(const std::vector<std::string>& args, const std::string& path_prefix = "");
// The JSON document on stdout of a `--json` command (the stderr lines are skipped).
nlohmann::json JsonOf(const CliResult& r);
std::string TestFile(const std::string& name);  // tests/integration/lab/NAME
std::string Example(const std::string& name);   // examples/net/NAME
// Namespaces whose name starts with `prefix`.
std::vector<std::string> NamespacesWithPrefix(const std::string& prefix);
// Processes whose command line mentions `needle`.
int ProcessesMentioning(const std::string& needle);
// Fails the calling test loudly (never skips) when not root or a tool is missing.
void RequireRootAndTools();

}  // namespace lifeline::lab::testing
