// fork/exec with a pipe; PATH gets /usr/sbin and /sbin appended so root tools are found even
// from a minimal environment.
#include "lab/exec.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lifeline::lab {
namespace {

constexpr size_t kMaxOutputBytes = 4u << 20;

std::string SearchPath() {
  const char* p = getenv("PATH");
  std::string path = p ? p : "/usr/bin:/bin";
  return path + ":/usr/sbin:/sbin:/usr/local/sbin";
}

std::string Resolve(const std::string& tool) {
  if (tool.find('/') != std::string::npos) return tool;
  std::string path = SearchPath();
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string cand = path.substr(start, end - start) + "/" + tool;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

}  // namespace

bool HaveTool(const std::string& tool) { return !Resolve(tool).empty(); }

Result<ExecResult> Exec(const std::vector<std::string>& argv, const std::string& input) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  std::string bin = Resolve(argv[0]);
  if (bin.empty()) return Status::NotFound("'" + argv[0] + "' not found in PATH");
  int out[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0)
    return Status::IOError(std::string("pipe: ") + strerror(errno));
  // Built before fork: the child of a multi-threaded parent may only call async-signal-safe
  // functions (no allocation).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execv(bin.c_str(), args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (!input.empty()) {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += n;
    }
  }
  close(in[1]);
  ExecResult r;
  char buf[8192];
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.output.size() < kMaxOutputBytes) r.output.append(buf, n);
  }
  close(out[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

Status ExecOk(const std::vector<std::string>& argv, const std::string& input) {
  LL_ASSIGN_OR_RETURN(ExecResult r, Exec(argv, input));
  if (r.exit_code == 0) return Status::Ok();
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return Status::IOError("'" + cmd + "' exited " + std::to_string(r.exit_code) + ": " + r.output);
}

}  // namespace lifeline::lab
