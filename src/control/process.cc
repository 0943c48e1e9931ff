#include "control/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

extern char** environ;

namespace lifeline::control {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

Result<Process> Process::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return Status::InvalidArgument("no command to run");
  // Environment: ours, with the spec's variables added or replaced.
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos)
      env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos)
      return Status::InvalidArgument("bad environment variable name '" + k + "'");
    env[k] = v;
  }
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = spec.argv;
  std::vector<char*> argv;
  for (std::string& s : argv_copy) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  int pipe_fds[2] = {-1, -1};
  int out_fd = -1;
  auto cleanup = [&] {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (pipe_fds[1] >= 0) close(pipe_fds[1]);
    if (out_fd >= 0) close(out_fd);
  };
  // Own process group: a timeout or stop kills the script and everything it started.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (spec.output_path.empty()) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      cleanup();
      return Status::FromErrno(errno, "pipe");
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  } else {
    out_fd = open(spec.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out_fd < 0) {
      int err = errno;
      cleanup();
      return Status::FromErrno(err, "log file " + spec.output_path);
    }
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  }
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  cleanup();
  if (rc != 0) {
    if (pipe_fds[0] >= 0) close(pipe_fds[0]);
    return Status::FromErrno(rc, "cannot run " + spec.argv[0]);
  }
  return Process(pid, pipe_fds[0]);
}

Process::Process(Process&& o) noexcept
    : pid_(o.pid_),
      output_fd_(o.output_fd_),
      exited_(o.exited_),
      detached_(o.detached_),
      exit_code_(o.exit_code_),
      partial_(std::move(o.partial_)) {
  o.pid_ = -1;
  o.output_fd_ = -1;
}

Process::~Process() {
  if (output_fd_ >= 0) close(output_fd_);
  if (pid_ > 0 && !exited_ && !detached_) {
    // Never leave an orphan behind a forgotten Process: stop it and reap it.
    (void)StopProcessGroup(pid_, 1000);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void Process::FlushPartial(const std::function<void(std::string_view)>& on_line) {
  if (!partial_.empty()) {
    if (on_line) on_line(partial_);
    partial_.clear();
  }
}

void Process::DrainOutput(int timeout_ms, const std::function<void(std::string_view)>& on_line) {
  if (output_fd_ < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 20)));
    return;
  }
  pollfd p{output_fd_, POLLIN, 0};
  int rc = poll(&p, 1, timeout_ms);
  if (rc <= 0) return;
  char buf[8192];
  ssize_t n = read(output_fd_, buf, sizeof buf);
  if (n <= 0) {
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      close(output_fd_);
      output_fd_ = -1;
      FlushPartial(on_line);
    }
    return;
  }
  for (ssize_t i = 0; i < n; ++i) {
    char c = buf[i];
    if (c == '\n') {
      FlushPartial(on_line);
    } else {
      partial_.push_back(c);
      if (partial_.size() >= kMaxOutputLineBytes) FlushPartial(on_line);
    }
  }
}

Result<int> Process::Poll() {
  if (exited_) return exit_code_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_code_ = DecodeWaitStatus(status);
    return exit_code_;
  }
  if (r < 0) return Status::FromErrno(errno, "waitpid");
  return -1;
}

void Process::KillGroup(int signal) {
  if (pid_ > 0 && !exited_) kill(-pid_, signal);
}

Result<int> Process::Wait(int64_t timeout_ms, const std::function<void(std::string_view)>& on_line,
                          const std::function<bool()>& should_stop, int64_t grace_ms) {
  int64_t start = SteadyMs();
  while (true) {
    DrainOutput(50, on_line);
    LL_ASSIGN_OR_RETURN(int code, Poll());
    if (code >= 0) {
      // The child is gone; take what is already in the pipe, but do not wait for
      // grandchildren that may still hold it open.
      for (int i = 0; i < 100 && output_fd_ >= 0; ++i) DrainOutput(0, on_line);
      FlushPartial(on_line);
      return code;
    }
    bool timed_out = timeout_ms > 0 && SteadyMs() - start >= timeout_ms;
    bool stop = !timed_out && should_stop && should_stop();
    if (timed_out || stop) {
      KillGroup(SIGTERM);
      int64_t kill_at = SteadyMs() + grace_ms;
      while (true) {
        DrainOutput(20, on_line);
        LL_ASSIGN_OR_RETURN(int c, Poll());
        if (c >= 0) break;
        if (SteadyMs() >= kill_at) {
          KillGroup(SIGKILL);
          int status = 0;
          waitpid(pid_, &status, 0);
          exited_ = true;
          exit_code_ = DecodeWaitStatus(status);
          break;
        }
      }
      // Whatever the leader did, the rest of its group goes too.
      kill(-pid_, SIGKILL);
      FlushPartial(on_line);
      if (timed_out)
        return Status::Busy("timed out after " + std::to_string(timeout_ms / 1000) +
                            " s: process group killed");
      return Status::Busy("stopped: process group killed");
    }
  }
}

Result<int> PollPid(pid_t pid) {
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return DecodeWaitStatus(status);
  if (r == 0) return -1;
  // Not our child (e.g. after a vault restart): all we can learn is whether it lives.
  if (kill(pid, 0) == 0 || errno == EPERM) return -1;
  return Status::NotFound("process " + std::to_string(pid) + " not found");
}

Status StopProcessGroup(pid_t pid, int64_t grace_ms) {
  if (pid <= 0) return Status::InvalidArgument("bad pid");
  if (kill(-pid, SIGTERM) != 0 && errno == ESRCH) {
    if (kill(pid, SIGTERM) != 0 && errno == ESRCH)
      return Status::NotFound("process " + std::to_string(pid) + " not found");
  }
  int64_t deadline = SteadyMs() + grace_ms;
  while (SteadyMs() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      kill(-pid, SIGKILL);  // stragglers in the group
      return Status::Ok();
    }
    if (r < 0 && kill(pid, 0) != 0 && errno == ESRCH) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return Status::Ok();
}

}  // namespace lifeline::control
