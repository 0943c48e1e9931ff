// The lab end to end with real BIRD routers in namespaces: the seeds' two-circuit topology
// comes up and matches `net routes`; failures are detected in the time `net simulate`
// predicts; `down` leaves nothing behind, also after a failed `up`. Needs root, ip, tc, nft,
// bird: fails (never skips) without them. Lab tests serialise on a lock file so their timing
// measurements do not run against each other.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lab/exec.h"
#include "lab_test_util.h"

namespace lifeline::lab {
namespace {

using testing::Example;
using testing::JsonOf;
using testing::Lifeline;
using testing::NamespacesWithPrefix;
using testing::ProcessesMentioning;
using testing::TestFile;

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RequireRootAndTools();
    std::filesystem::create_directories("/run/lifeline");
    lock_fd_ = open("/run/lifeline/lab-tests.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(lock_fd_, 0);
    ASSERT_EQ(flock(lock_fd_, LOCK_EX), 0);
  }
  void TearDown() override {
    for (const auto& name : labs_) Lifeline({"lab", "down", "--name", name});
    if (lock_fd_ >= 0) close(lock_fd_);
  }
  // Brings a lab up (a leftover of an earlier crashed run is removed first).
  void Up(const std::string& file, const std::string& name) {
    Lifeline({"lab", "down", "--name", name});
    labs_.push_back(name);
    auto r = Lifeline({"lab", "up", file, "--name", name, "--wait-s", "60", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    ASSERT_TRUE(JsonOf(r).value("established", false)) << r.out;
  }
  void ExpectNothingLeft(const std::string& name) {
    EXPECT_TRUE(NamespacesWithPrefix("ll-" + name + "-").empty());
    EXPECT_EQ(ProcessesMentioning("/run/lifeline/lab/" + name + "/"), 0);
    EXPECT_FALSE(std::filesystem::exists("/run/lifeline/lab/" + name + ".json"));
    EXPECT_FALSE(std::filesystem::exists("/run/lifeline/lab/" + name));
  }
  double MeasureOutage(const std::string& name, const std::string& element, double duration_s) {
    auto r =
        Lifeline({"lab", "probe", "--name", name, "--from", "hq", "--to", "dr", "--fail", element,
                  "--after-s", "1", "--duration-s", std::to_string(duration_s), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto j = JsonOf(r);
    std::cout << "[lab] probe: " << j.dump() << "\n";
    return j.value("outage_s", -1.0);
  }
  double Predicted(const std::string& file, const std::string& element) {
    auto r =
        Lifeline({"net", "simulate", file, "--fail", element, "--convergence-s", "0", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto j = JsonOf(r);
    return j.value("worst_outage_s", -1.0);
  }

  int lock_fd_ = -1;
  std::vector<std::string> labs_;
};

TEST_F(LabTest, SeedsTwoCircuitsComeUpAndMatchNetRoutes) {
  Up(Example("hub-spoke-two-circuits.yaml"), "itup");
  auto r = Lifeline({"lab", "status", "--name", "itup", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto st = JsonOf(r);
  // 2 site routers x (2 circuits + LAN) + 2 LAN on the host + 4 MSEEs x 2 + 2 gw x 2.
  EXPECT_EQ(st["sessions"].get<int>(), 20);
  EXPECT_EQ(st["established"].get<int>(), st["sessions"].get<int>());
  EXPECT_TRUE(st["differences"].empty()) << st["differences"].dump(2);
  int bfd_up = 0;
  for (const auto& router : st["routers"])
    for (const auto& b : router["bfd"]) bfd_up += b["state"] == "Up";
  EXPECT_EQ(bfd_up, 8);  // both ends of the 4 circuit links
  // Traffic flows from the site to a spoke behind the hub's gateway.
  auto p = Lifeline({"lab", "probe", "--name", "itup", "--from", "hq", "--to", "vnet1",
                     "--duration-s", "1", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.out;
  auto pj = JsonOf(p);
  EXPECT_GT(pj["received"].get<int>(), 900) << p.out;

  // A failed link (down): the routers follow, and still agree with `net routes`, which now
  // computes with the same failure.
  auto f = Lifeline({"lab", "fail", "er-hk/primary", "--mode", "down", "--name", "itup"});
  ASSERT_EQ(f.exit_code, 0) << f.out;
  nlohmann::json after;
  for (int i = 0; i < 40; ++i) {  // BGP drops at once on link down (check link)
    after = JsonOf(Lifeline({"lab", "status", "--name", "itup", "--json"}));
    if (after["differences"].empty()) break;
    usleep(250'000);
  }
  EXPECT_TRUE(after["differences"].empty()) << after["differences"].dump(2);
  EXPECT_EQ(after["established"].get<int>(), 18);
  ASSERT_EQ(Lifeline({"lab", "heal", "er-hk/primary", "--name", "itup"}).exit_code, 0);

  auto d = Lifeline({"lab", "down", "--name", "itup"});
  ASSERT_EQ(d.exit_code, 0) << d.out;
  ExpectNothingLeft("itup");
}

TEST_F(LabTest, SilentDropWithBfdIsDetectedAsSimulatePredicts) {
  std::string file = TestFile("two-circuits-bfd.yaml");
  Up(file, "itbfd");
  double predicted = Predicted(file, "er-a");
  ASSERT_NEAR(predicted, 0.9, 1e-9);  // BFD 300 ms x 3, no gateway convergence in the lab
  double outage = MeasureOutage("itbfd", "er-a", 4);
  std::cout << "[lab] BFD 300 ms x 3: measured " << outage << " s, predicted " << predicted
            << " s\n";
  EXPECT_GT(outage, 0.3);  // it was cut: BFD needs time to notice
  EXPECT_LT(outage, 1.2);  // under 1 s plus convergence
  EXPECT_NEAR(outage, predicted, 0.2 * predicted);
}

TEST_F(LabTest, SilentDropWithoutBfdWaitsForTheHoldTimer) {
  std::string file = TestFile("two-circuits-hold.yaml");
  Up(file, "ithold");
  double predicted = Predicted(file, "er-a");
  ASSERT_NEAR(predicted, 10, 1e-9);
  double outage = MeasureOutage("ithold", "er-a", 16);
  std::cout << "[lab] BFD off, hold 10 s: measured " << outage << " s, predicted " << predicted
            << " s\n";
  // The hold timer runs from the last keepalive (every ~3 s): 7-10 s, plus the time BIRD
  // takes to close the dead session.
  EXPECT_GT(outage, 6.5);
  EXPECT_LT(outage, 14);
}

TEST_F(LabTest, FailedUpLeavesNothingBehind) {
  // A `bird` that refuses every configuration makes `up` fail after namespaces and links exist.
  std::string dir = ::testing::TempDir() + "/labfake" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/bird");
    f << "#!/bin/sh\necho 'bird: refusing for the test' >&2\nexit 1\n";
  }
  std::filesystem::permissions(dir + "/bird", std::filesystem::perms::owner_all);
  Lifeline({"lab", "down", "--name", "itfail"});
  auto r = Lifeline({"lab", "up", Example("hub-spoke-two-circuits.yaml"), "--name", "itfail"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("refusing for the test"), std::string::npos) << r.out;
  ExpectNothingLeft("itfail");
  // `down` afterwards has nothing to do and says so.
  EXPECT_EQ(Lifeline({"lab", "down", "--name", "itfail"}).exit_code, 10);
  std::filesystem::remove_all(dir);
}

TEST_F(LabTest, UpRefusesToTouchWhatItDidNotMake) {
  Lifeline({"lab", "down", "--name", "itref"});
  ASSERT_TRUE(ExecOk({"ip", "netns", "add", "ll-itref-r-foreign"}).ok());
  auto r = Lifeline({"lab", "up", Example("hub-spoke-two-circuits.yaml"), "--name", "itref"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("not made by"), std::string::npos) << r.out;
  auto left = NamespacesWithPrefix("ll-itref-");
  EXPECT_EQ(left, std::vector<std::string>{"ll-itref-r-foreign"});  // untouched, nothing added
  ASSERT_TRUE(ExecOk({"ip", "netns", "del", "ll-itref-r-foreign"}).ok());
  // And a second `up` of a running lab is refused.
  Up(TestFile("two-circuits-bfd.yaml"), "itref");
  auto again = Lifeline({"lab", "up", TestFile("two-circuits-bfd.yaml"), "--name", "itref"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.out.find("already up"), std::string::npos) << again.out;
}

TEST(LabNoRoot, SaysClearlyThatRootIsNeeded) {
  ASSERT_TRUE(HaveTool("setpriv")) << "setpriv (util-linux) is required for this test";
  auto r = Exec({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", LIFELINE_BINARY,
                 "lab", "up", Example("hub-spoke-two-circuits.yaml"), "--name", "itnoroot"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1) << r->output;
  EXPECT_NE(r->output.find("needs root"), std::string::npos) << r->output;
  EXPECT_TRUE(NamespacesWithPrefix("ll-itnoroot-").empty());
}

TEST_F(LabTest, FrozenRouterIsNoticedByBfdAndStatusStillAnswers) {
  std::string file = TestFile("two-circuits-bfd.yaml");
  Up(file, "itrtr");
  // Freeze the MSEE of er-a's primary link: BFD on hq-edge-1 notices, the status command
  // does not hang on the frozen router, and healing brings the session back.
  auto f = Lifeline({"lab", "fail", "er-a/primary/msee", "--name", "itrtr"});
  ASSERT_EQ(f.exit_code, 0) << f.out;
  nlohmann::json st;
  bool bfd_down = false;
  for (int i = 0; i < 20 && !bfd_down; ++i) {
    usleep(250'000);
    st = JsonOf(Lifeline({"lab", "status", "--name", "itrtr", "--json"}));
    for (const auto& router : st["routers"]) {
      if (router["element"] != "hq-edge-1") continue;
      for (const auto& s : router["sessions"])
        if (s["name"] == "er_er_a_primary" &&
            s["info"].get<std::string>().find("BFD") != std::string::npos)
          bfd_down = true;
    }
  }
  EXPECT_TRUE(bfd_down) << st.dump(2);
  ASSERT_EQ(Lifeline({"lab", "heal", "--name", "itrtr"}).exit_code, 0);
  int established = 0;
  for (int i = 0; i < 60; ++i) {
    established = JsonOf(Lifeline({"lab", "status", "--name", "itrtr", "--json"}))["established"];
    if (established == 20) break;
    usleep(250'000);
  }
  EXPECT_EQ(established, 20);
}

}  // namespace
}  // namespace lifeline::lab
