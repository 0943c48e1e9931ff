// Test helpers: run `lifeline nbd serve` as a real process (port 0 or a Unix socket), read
// its URL from stdout, stop it with SIGTERM; run shell commands and capture their output.
// Thread-compatible.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace lifeline::nbd::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult Shell(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Fails the test loudly when a client tool is not installed (scripts/install-deps).
inline void RequireTool(const std::string& tool) {
  ASSERT_EQ(Shell("command -v " + tool).exit_code, 0)
      << tool << " is not installed; run scripts/install-deps";
}

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  // Starts `lifeline nbd serve <args>` and waits for the URL line. Returns false on error.
  bool Start(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe(out) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<std::string> argv_s = {LIFELINE_BINARY, "nbd", "serve"};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::setenv("LIFELINE_LOG", "warn", 1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    stdout_ = ::fdopen(out[0], "r");
    char line[4096];
    if (!stdout_ || !fgets(line, sizeof line, stdout_)) return false;
    url_ = line;
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
    return !url_.empty();
  }

  // SIGTERM, then waits; returns the exit code (or -1 if not running).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (stdout_) ::fclose(stdout_);
    stdout_ = nullptr;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  const std::string& url() const { return url_; }
  // "127.0.0.1:PORT" part of a TCP URL.
  int port() const {
    size_t colon = url_.rfind(':');
    return colon == std::string::npos ? -1 : std::atoi(url_.c_str() + colon + 1);
  }

 private:
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  std::string url_;
};

}  // namespace lifeline::nbd::testing
