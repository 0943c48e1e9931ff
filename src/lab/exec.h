// Runs host tools (ip, tc, nft, bird, birdc) without a shell: argv only, output captured and
// bounded. Blocking; thread-compatible (fork/exec from the calling thread).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace lifeline::lab {

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, at most 4 MiB
};

// Runs argv[0] (looked up in PATH) with `input` on stdin. IOError only if it cannot start.
Result<ExecResult> Exec(const std::vector<std::string>& argv, const std::string& input = "");
// Runs and requires exit 0; the error carries the command and its output.
Status ExecOk(const std::vector<std::string>& argv, const std::string& input = "");
// True if `tool` is an executable in PATH (or /usr/sbin, /sbin).
bool HaveTool(const std::string& tool);

}  // namespace lifeline::lab
