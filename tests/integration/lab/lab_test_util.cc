// See lab_test_util.h.
#include "lab_test_util.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "lab/exec.h"

namespace lifeline::lab::testing {

CliResult Lifeline(const std::vector<std::string>& args, const std::string& path_prefix) {
  std::vector<std::string> argv;
  if (!path_prefix.empty()) {
    const char* p = getenv("PATH");
    argv = {"env", "PATH=" + path_prefix + ":" + (p ? p : "/usr/bin:/bin")};
  }
  argv.push_back(LIFELINE_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Exec(argv);
  CliResult out;
  if (!r.ok()) {
    out.out = r.status().ToString();
    return out;
  }
  out.exit_code = r->exit_code;
  out.out = r->output;
  return out;
}

nlohmann::json JsonOf(const CliResult& r) {
  // stdout and stderr are merged: the JSON document starts at the first line that is "{".
  size_t pos = r.out.find("\n{");
  size_t start = r.out.rfind("{", 0) == 0 ? 0 : (pos == std::string::npos ? pos : pos + 1);
  if (start == std::string::npos) return nlohmann::json();
  // Find the matching closing line "}".
  size_t end = r.out.find("\n}", start);
  if (end == std::string::npos) return nlohmann::json();
  auto j = nlohmann::json::parse(r.out.substr(start, end + 2 - start), nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string TestFile(const std::string& name) {
  return std::string(LIFELINE_SOURCE_DIR) + "/tests/integration/lab/" + name;
}
std::string Example(const std::string& name) {
  return std::string(LIFELINE_SOURCE_DIR) + "/examples/net/" + name;
}

std::vector<std::string> NamespacesWithPrefix(const std::string& prefix) {
  std::vector<std::string> out;
  auto r = Exec({"ip", "netns", "list"});
  if (!r.ok()) return out;
  std::istringstream in(r->output);
  std::string line;
  while (std::getline(in, line)) {
    std::string name = line.substr(0, line.find(' '));
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

int ProcessesMentioning(const std::string& needle) {
  int n = 0;
  DIR* d = opendir("/proc");
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    if (!isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) != std::string::npos && std::stoi(e->d_name) != getpid()) ++n;
  }
  closedir(d);
  return n;
}

void RequireRootAndTools() {
  ASSERT_EQ(geteuid(), 0u) << "the lab tests need root (network namespaces); CI runs as root";
  for (const char* tool : {"ip", "tc", "nft", "bird", "birdc"})
    ASSERT_TRUE(HaveTool(tool)) << "missing tool '" << tool
                                << "': run scripts/install-deps (iproute2, nftables, bird2)";
}

}  // namespace lifeline::lab::testing
