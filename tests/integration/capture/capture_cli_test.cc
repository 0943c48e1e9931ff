// `lifeline machine protect NAME --disk PATH --mode nbd` end to end with real processes:
// vault init/run, agent register/run, protect, `machine status` showing the NBD URL, a
// client writing through it, and the vault's replica compared with the image.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "capture_fixture.h"

namespace lifeline {
namespace {

using namespace capture_testing;
using json = nlohmann::json;

uint16_t FreePort() {
  CommandResult r = Shell("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'");
  return uint16_t(std::atoi(r.output.c_str()));
}

class Daemon {
 public:
  ~Daemon() { Stop(); }
  void Start(const std::vector<std::string>& args, const std::string& log, const std::string& env_token) {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      if (!env_token.empty()) ::setenv("LIFELINE_TOKEN", env_token.c_str(), 1);
      std::vector<std::string> a = {LIFELINE_BINARY};
      a.insert(a.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

TEST(CaptureCliTest, ProtectModeNbdServesTheDiskAndReplicatesIt) {
  for (const char* tool : {"qemu-io", "python3"}) RequireTool(tool);
  std::string dir = (std::filesystem::temp_directory_path() / ("ll-capture-cli-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string bin = LIFELINE_BINARY;
  CommandResult init = Shell(bin + " vault init --dir " + dir + "/v --json");
  ASSERT_EQ(init.exit_code, 0) << init.output;
  json ij = json::parse(init.output.substr(init.output.find('{')));
  std::string token = ij["admin_token"], key = ij["registration_key"];
  uint16_t repl = FreePort(), api = FreePort(), nbd_port = FreePort();
  Daemon vault, agent;
  vault.Start({"vault", "run", "--dir", dir + "/v", "--listen", "127.0.0.1:" + std::to_string(repl), "--api",
               "127.0.0.1:" + std::to_string(api)},
              dir + "/vault.log", "");
  std::string api_url = "https://127.0.0.1:" + std::to_string(api);
  CommandResult reg;
  for (int i = 0; i < 50; ++i) {
    reg = Shell(bin + " agent register --vault " + api_url + " --ca " + dir + "/v/pki/ca.crt --key " + key +
                " --name host1 --dir " + dir + "/a");
    if (reg.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  agent.Start({"agent", "run", "--dir", dir + "/a"}, dir + "/agent.log", "");
  std::string img = dir + "/disk.img";
  ASSERT_EQ(Shell("truncate -s 32M " + img + " && head -c 4M /dev/urandom | dd of=" + img + " conv=notrunc status=none").exit_code, 0);
  std::string client = " --vault-dir " + dir + "/v --token " + token;
  CommandResult bad = Shell(bin + " machine protect web --disk " + img + " --agent host1 --mode mirror" + client);
  EXPECT_NE(bad.exit_code, 0) << "an unknown mode is refused";
  CommandResult prot = Shell(bin + " machine protect web --disk " + img + " --agent host1 --mode nbd --nbd-listen 127.0.0.1:" +
                             std::to_string(nbd_port) + " --point-interval 1" + client);
  ASSERT_EQ(prot.exit_code, 0) << prot.output;
  std::string url = "nbd://127.0.0.1:" + std::to_string(nbd_port);
  // The status shows the URL once the agent serves the disk.
  CommandResult st;
  for (int i = 0; i < 100; ++i) {
    st = Shell(bin + " machine status web" + client);
    if (st.output.find(url) != std::string::npos && st.output.find("up to date") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_NE(st.output.find("nbd " + url), std::string::npos) << st.output;
  CommandResult w = Shell("qemu-io -f raw -c 'write -P 0x5c 8M 2M' -c 'write -z 1M 1M' -c flush " + url);
  ASSERT_EQ(w.exit_code, 0) << w.output;
  json disk;
  for (int i = 0; i < 100; ++i) {
    CommandResult sj = Shell(bin + " machine status web --json" + client);
    json m = json::parse(sj.output.substr(sj.output.find('{')), nullptr, false);
    if (m.is_object()) disk = m["disks"][0];
    if (disk.is_object() && disk.contains("agent") && disk["agent"].value("acked_seq", 0) >= disk["agent"].value("last_seq", 1) &&
        disk["agent"].value("last_seq", 0) > 0 && disk["agent"].value("points", 0) >= 2)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(disk.is_object());
  EXPECT_EQ(disk["agent"].value("nbd_url", ""), url);
  EXPECT_EQ(disk["agent"].value("mode", ""), "nbd");
  EXPECT_EQ(disk["agent"].value("capture_state", ""), "streaming");
  EXPECT_TRUE(disk["agent"].value("initial_complete", false));
  agent.Stop();
  vault.Stop();
  // The replica (newest durable state) equals the image.
  auto store = std::move(store::ReplicaStore::Open(dir + "/v/store", {})).value();
  auto* replica = *store->Disk("web-disk0");
  ASSERT_TRUE(replica->Materialize(replica->durable_seq(), dir + "/restored.img").ok());
  EXPECT_TRUE(ReadAll(dir + "/restored.img") == ReadAll(img)) << "replica differs from the image";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lifeline
