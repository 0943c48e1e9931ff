#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/commands.h"

namespace lifeline::cli {
namespace {
int g_exit_code = 0;
}

GlobalOptions& Globals() {
  static GlobalOptions g;
  return g;
}
void SetExitCode(int code) { g_exit_code = code; }
int ExitCode() { return g_exit_code; }

void Fail(const Status& status) {
  if (Globals().json) {
    nlohmann::json j = {{"error", {{"code", std::string(CodeName(status.code()))},
                                   {"message", status.message()}}}};
    std::cout << j.dump(2) << "\n";
  }
  std::cerr << "lifeline: " << status.ToString() << "\n";
  SetExitCode(ExitCodeFor(status.code()));
}

void RunCommand(const std::function<Status()>& body) {
  Status s = body();
  if (!s.ok()) Fail(s);
}

}  // namespace lifeline::cli
