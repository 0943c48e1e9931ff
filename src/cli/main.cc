// The `lifeline` binary: one executable, roles and client commands as subcommands.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace lifeline;
  log::SetLevelFromEnv(log::Level::kWarn);
  CLI::App app{"lifeline: disaster recovery for machines on a hybrid network"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lifeline 0.1.0");
  cli::RegisterStoreCommands(app);
  cli::RegisterReplicationCommands(app);
  cli::RegisterControlCommands(app);
  cli::RegisterNbdCommands(app);
  cli::RegisterNetCommands(app);
  cli::RegisterLabCommands(app);
  cli::RegisterRecoveryCommands(app);
  cli::RegisterGroupCommands(app);
  cli::RegisterRecoveryConfigCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return cli::ExitCode();
}
