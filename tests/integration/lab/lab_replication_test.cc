// Replication across the lab: the vault in the recovery VNet's namespace, the agent in the
// site's; the active circuit is cut silently during the initial replication. Replication must
// resume over the standby circuit by itself, lose no acknowledged write, and the replica must
// equal the source at the next point. The outage length is printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "lab/exec.h"
#include "lab_test_util.h"

namespace lifeline::lab {
namespace {

using testing::JsonOf;
using testing::Lifeline;
namespace fs = std::filesystem;

constexpr const char* kLab = "itrepl";
constexpr int kImageMiB = 96;  // ~4 s over the 200 Mbit/s circuit

TEST(LabReplication, SurvivesACircuitCutWithNoLostWrites) {
  testing::RequireRootAndTools();
  fs::create_directories("/run/lifeline");
  int lock = open("/run/lifeline/lab-tests.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(flock(lock, LOCK_EX), 0);

  std::string dir = fs::temp_directory_path() / ("ll-lab-repl-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir + "/vault");
  fs::create_directories(dir + "/agent");
  std::string file = testing::TestFile("two-circuits-bfd.yaml");
  Lifeline({"lab", "down", "--name", kLab});
  auto up = Lifeline({"lab", "up", file, "--name", kLab, "--wait-s", "60", "--json"});
  ASSERT_EQ(up.exit_code, 0) << up.out;

  // PKI for the vault at the recovery VNet's address (10.30.0.4), shared by both sides.
  ASSERT_TRUE(ExecOk({LAB_REPL_NODE, "pki", dir + "/vault", "10.30.0.4"}).ok());
  for (const char* f : {"ca.pem", "client.pem", "client.key"})
    fs::copy_file(dir + "/vault/" + f, dir + "/agent/" + f);
  // The source image: random data, so nothing compresses away.
  std::string image = dir + "/agent/disk.img";
  {
    std::mt19937_64 rng(7);
    std::string buf(1u << 20, '\0');
    FILE* f = fopen(image.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    for (int i = 0; i < kImageMiB; ++i) {
      for (size_t k = 0; k + 8 <= buf.size(); k += 8) {
        uint64_t v = rng();
        memcpy(buf.data() + k, &v, 8);
      }
      fwrite(buf.data(), 1, buf.size(), f);
    }
    fclose(f);
  }

  std::string vault_out;
  std::thread vault([&] {
    auto r = Exec({"ip", "netns", "exec", "ll-itrepl-v-dr", LAB_REPL_NODE, "vault", dir + "/vault",
                   "47100", std::to_string(kImageMiB)});
    vault_out = r.ok() ? r->output : r.status().ToString();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int agent_exit = -1;
  std::string agent_out;
  std::thread agent([&] {
    auto r = Exec({"ip", "netns", "exec", "ll-itrepl-s-hq", LAB_REPL_NODE, "agent", dir + "/agent",
                   "10.30.0.4", "47100", image});
    if (r.ok()) {
      agent_exit = r->exit_code;
      agent_out = r->output;
    }
  });
  // Cut the active circuit silently while the initial replication runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  auto cut = Lifeline({"lab", "fail", "er-a", "--name", kLab});
  EXPECT_EQ(cut.exit_code, 0) << cut.out;
  agent.join();
  {
    FILE* f = fopen((dir + "/vault/stop").c_str(), "w");
    if (f) fclose(f);
  }
  vault.join();
  std::cout << "[lab] agent: " << agent_out << "[lab] vault: " << vault_out;
  ASSERT_EQ(agent_exit, 0) << agent_out;
  // The last line of the agent's output is its JSON summary.
  std::string last = agent_out.substr(agent_out.rfind('{'));
  auto j = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << agent_out;
  EXPECT_EQ(j["initial_bytes"].get<uint64_t>(), uint64_t(kImageMiB) << 20);
  double outage = j["outage_s"].get<double>();
  std::cout << "[lab] replication outage across the circuit cut: " << outage << " s\n";
  EXPECT_GT(outage, 0.3) << "the cut must have hit the replication stream";
  EXPECT_LT(outage, 10) << "replication must resume over the standby circuit by itself";

  // The replica at its newest point equals the source: no acknowledged write was lost.
  auto v = Exec({LAB_REPL_NODE, "verify", dir + "/vault", image});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->exit_code, 0) << v->output;

  auto down = Lifeline({"lab", "down", "--name", kLab});
  EXPECT_EQ(down.exit_code, 0) << down.out;
  fs::remove_all(dir);
  close(lock);
}

}  // namespace
}  // namespace lifeline::lab
