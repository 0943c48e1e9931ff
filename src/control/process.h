// Child processes for plan scripts and launchers: spawned in their own process group (so a
// timeout kills the whole tree), with an explicit environment and output either captured
// line by line or appended to a log file.
// Thread-compatible: one Process object is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lifeline::control {

struct ProcessSpec {
  std::vector<std::string> argv;                         // argv[0] looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) ours
  std::string cwd;                                       // "" : inherit
  std::string output_path;  // stdout+stderr appended here; "" : captured through a pipe
};

// Output lines are cut at this length so a child cannot grow our memory.
inline constexpr size_t kMaxOutputLineBytes = 4096;

class Process {
 public:
  static Result<Process> Spawn(const ProcessSpec& spec);
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }

  // Waits for the child to exit; returns its exit code (128+N if killed by signal N).
  // Captured output goes to `on_line`. After `timeout_ms` (<= 0: none) or when
  // `should_stop` says so, the process group gets SIGTERM, then SIGKILL after
  // `grace_ms`, and the result is Busy ("timed out after ...") or Busy ("stopped").
  Result<int> Wait(int64_t timeout_ms, const std::function<void(std::string_view)>& on_line,
                   const std::function<bool()>& should_stop = nullptr, int64_t grace_ms = 2000);

  // Non-blocking: exit code if it has exited, -1 if still running.
  Result<int> Poll();
  void KillGroup(int signal);
  // Gives up ownership without waiting (a launcher's long-running child).
  void Detach() { detached_ = true; }

 private:
  Process(pid_t pid, int output_fd) : pid_(pid), output_fd_(output_fd) {}
  void DrainOutput(int timeout_ms, const std::function<void(std::string_view)>& on_line);
  void FlushPartial(const std::function<void(std::string_view)>& on_line);

  pid_t pid_ = -1;
  int output_fd_ = -1;
  bool exited_ = false;
  bool detached_ = false;
  int exit_code_ = 0;
  std::string partial_;
};

// Exit code of a pid we spawned earlier (possibly by another Process object):
// -1 running, >= 0 exited, NotFound if no such process.
Result<int> PollPid(pid_t pid);
// SIGTERM to the group, then SIGKILL after grace_ms if still there.
Status StopProcessGroup(pid_t pid, int64_t grace_ms);

}  // namespace lifeline::control
