// Registration of the `lifeline` subcommands. Each area adds its nouns to the app in its own
// file (store_cmd.cc, net_cmd.cc, ...); main.cc only calls the Register functions.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace CLI {
class App;
}

namespace lifeline::cli {

// Common flags every command understands.
struct GlobalOptions {
  bool json = false;
};
GlobalOptions& Globals();

// Stores the exit code of the command that ran (set by its callback).
void SetExitCode(int code);
int ExitCode();

// Reports a failed status the documented way (stderr text, or a JSON error object on stdout
// with --json) and sets the exit code from the status code.
void Fail(const Status& status);
// Runs `body` and reports its status; used by command callbacks.
void RunCommand(const std::function<Status()>& body);

void RegisterStoreCommands(CLI::App& app);
void RegisterReplicationCommands(CLI::App& app);
void RegisterControlCommands(CLI::App& app);
void RegisterNbdCommands(CLI::App& app);
void RegisterNetCommands(CLI::App& app);
void RegisterLabCommands(CLI::App& app);
void RegisterRecoveryCommands(CLI::App& app);
void RegisterGroupCommands(CLI::App& app);
void RegisterRecoveryConfigCommands(CLI::App& app);

}  // namespace lifeline::cli
