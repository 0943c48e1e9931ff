// Network actions of recovery plans performed by the lab driver on a real network lab
// (namespaces, BIRD routers): disconnect-connection fails the connection's circuit,
// verify-path probes the path from the site to the recovery VNet, connect-connection heals
// it, and a step the lab cannot perform fails naming the driver and the step, under its
// on_failure. Needs root, ip, tc, nft and bird: fails (never skips) without them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "../lab/lab_test_util.h"
#include "control/catalog.h"
#include "control/jobs.h"
#include "control/plan.h"
#include "control/plan_steps.h"
#include "lab/lab.h"
#include "vault/network_drivers.h"

namespace lifeline::vault {
namespace {

using nlohmann::json;
namespace labt = lifeline::lab::testing;

constexpr char kLab[] = "llnetdrv";

// Stands in for the machine steps: the test is about the network actions between them.
class NoopStep final : public control::Step {
 public:
  Status Run(control::StepContext&) override { return Status::Ok(); }
};

class PlanNetworkLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    labt::RequireRootAndTools();
    std::filesystem::create_directories("/run/lifeline");
    lock_fd_ = open("/run/lifeline/lab-tests.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(lock_fd_, 0);
    ASSERT_EQ(flock(lock_fd_, LOCK_EX), 0);
    labt::Lifeline({"lab", "down", "--name", kLab});  // a leftover of a crashed run
    auto up = labt::Lifeline({"lab", "up", labt::TestFile("two-circuits-bfd.yaml"), "--name",
                              kLab, "--wait-s", "60", "--json"});
    ASSERT_EQ(up.exit_code, 0) << up.out;
    lab_up_ = true;

    dir_ = "/tmp/ll-netlab-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto c = control::Catalog::Open(dir_ + "/catalog.db");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    for (const char* name : {"drill.prepare", "drill.start-group"})
      ASSERT_TRUE(registry_
                      .Register(name,
                                [](const json&) -> Result<std::unique_ptr<control::Step>> {
                                  return std::unique_ptr<control::Step>(new NoopStep);
                                })
                      .ok());
    auto driver = MakeNetworkDriver(std::string("lab:") + kLab);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    network_.SetDriver(std::move(*driver));
    control::PlanStepOptions o;
    o.network = &network_;
    o.retry_backoff_ms = 500;
    ASSERT_TRUE(control::RegisterPlanSteps(&registry_, o).ok());
    control::RunnerOptions ro;
    ro.poll_interval_ms = 10;
    runner_ = std::make_unique<control::JobRunner>(catalog_.get(), &registry_, ro);
    ASSERT_TRUE(runner_->Start().ok());
  }
  void TearDown() override {
    if (runner_) runner_->Stop();
    if (lab_up_) labt::Lifeline({"lab", "down", "--name", kLab});
    if (lock_fd_ >= 0) close(lock_fd_);
    std::filesystem::remove_all(dir_);
  }
  control::Job Run(const std::string& yaml) {
    auto plan = control::ParsePlan(yaml, "plan.yaml");
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    auto spec = control::BuildPlanJob(*plan, control::Operation::kDrill);
    EXPECT_TRUE(spec.ok());
    auto id = runner_->Submit(*spec);
    EXPECT_TRUE(id.ok());
    auto job = runner_->Wait(*id, 120000);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : control::Job{};
  }
  std::string LogText(int64_t job) {
    std::string out;
    auto log = catalog_->GetLog(job, 0, 10000);
    for (const auto& l : *log) out += l.level + " " + l.text + "\n";
    return out;
  }
  // The elements the lab's state lists as failed.
  std::vector<std::string> Failed() {
    lab::LabOptions o;
    o.name = kLab;
    auto st = lab::LoadLabState(o);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    std::vector<std::string> out;
    if (st.ok() && st->contains("failures"))
      for (const auto& f : (*st)["failures"]) out.push_back(f.value("element", ""));
    return out;
  }

  int lock_fd_ = -1;
  bool lab_up_ = false;
  std::string dir_;
  std::unique_ptr<control::Catalog> catalog_;
  control::StepRegistry registry_;
  control::NetworkStepRegistry network_;
  std::unique_ptr<control::JobRunner> runner_;
};

TEST_F(PlanNetworkLabTest, DisconnectVerifyReconnectThroughTheLab) {
  ASSERT_TRUE(Failed().empty());
  // The primary circuit's connection goes; the site still reaches the VNet over er-b; the
  // gateway step is not something a lab can do, and its on_failure is continue.
  control::Job job = Run(R"(name: cut-primary
groups:
  - machines: [a]
    before:
      - name: cut
        network: {step: disconnect-connection, args: {connection: dr-er-a}}
      - name: verify
        network: {step: verify-path, args: {from: hq, to: dr, duration_s: '1'}}
        on_failure: retry(8)
      - name: gateway
        network: {step: create-gateway, args: {gateway: ergw}}
        on_failure: continue
)");
  std::string log = LogText(job.id);
  ASSERT_EQ(job.state, control::JobState::kDone) << job.error << "\n" << log;
  EXPECT_EQ(Failed(), std::vector<std::string>{"er-a"});
  EXPECT_NE(log.find("probes answered"), std::string::npos) << log;
  for (size_t at = log.find("lab " + std::string(kLab) + ": hq"); at != std::string::npos;
       at = log.find("lab " + std::string(kLab) + ": hq", at + 1))
    std::cout << "[lab driver] " << log.substr(at, log.find('\n', at) - at) << "\n";
  EXPECT_NE(log.find("the lab network driver cannot perform step 'create-gateway'"),
            std::string::npos)
      << log;

  // Both circuits gone: the path must be unreachable, and a check that expects it reachable
  // fails the plan (abort).
  job = Run(R"(name: cut-both
groups:
  - machines: [a]
    before:
      - name: cut
        network: {step: disconnect-connection, args: {circuit: er-b}}
      - name: verify-gone
        network: {step: verify-path, args: {from: hq, to: dr, expect: unreachable, duration_s: '1'}}
        on_failure: retry(8)
      - name: verify-up
        network: {step: verify-path, args: {from: hq, to: dr, duration_s: '0.5'}}
)");
  log = LogText(job.id);
  EXPECT_EQ(job.state, control::JobState::kFailed) << log;
  EXPECT_NE(job.error.find("action 'verify-up'"), std::string::npos) << job.error;
  EXPECT_NE(job.error.find("expected reachable"), std::string::npos) << job.error;
  EXPECT_NE(log.find("0 of "), std::string::npos) << log;  // verify-gone saw no answer

  // Reconnect both (a second connect is harmless) and verify the path is back.
  job = Run(R"(name: heal
groups:
  - machines: [a]
    after:
      - network: {step: connect-connection, args: {connection: dr-er-a}}
      - network: {step: connect-connection, args: {connection: dr-er-b}}
      - network: {step: connect-connection, args: {connection: dr-er-b}}
      - name: verify
        network: {step: verify-path, args: {from: hq, to: dr, duration_s: '1'}}
        on_failure: retry(10)
)");
  ASSERT_EQ(job.state, control::JobState::kDone) << job.error << "\n" << LogText(job.id);
  EXPECT_TRUE(Failed().empty());

  // Under abort, a step the lab cannot perform fails the plan, naming driver and step.
  job = Run(R"(name: peering
groups:
  - machines: [a]
    before:
      - network: {step: create-peering, args: {from: dr, to: hub}}
)");
  EXPECT_EQ(job.state, control::JobState::kFailed);
  EXPECT_NE(job.error.find("lab network driver cannot perform step 'create-peering'"),
            std::string::npos)
      << job.error;
  // An unknown connection is a clear NotFound, not a silent success.
  job = Run(R"(name: typo
groups:
  - machines: [a]
    before:
      - network: {step: disconnect-connection, args: {connection: dr-er-z}}
)");
  EXPECT_EQ(job.state, control::JobState::kFailed);
  EXPECT_NE(job.error.find("no connection 'dr-er-z'"), std::string::npos) << job.error;
  EXPECT_TRUE(Failed().empty());
}

TEST(NetworkDriverSpec, ParsesAndRefuses) {
  EXPECT_TRUE(MakeNetworkDriver("").ok());
  EXPECT_EQ(MakeNetworkDriver("").value(), nullptr);
  auto c = MakeNetworkDriver("command:/usr/local/bin/net-step");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->name(), "command");
  auto l = MakeNetworkDriver("lab:site1:/run/other");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->name(), "lab");
  EXPECT_EQ((*l)->Steps().count("verify-path"), 1u);
  for (const char* bad : {"command:", "command:relative/path", "lab:", "lab:a b", "lab:x:rel",
                          "lab:x:", "bgp:x", "command", ":"})
    EXPECT_EQ(MakeNetworkDriver(bad).status().code(), Code::kInvalidArgument) << bad;
}

}  // namespace
}  // namespace lifeline::vault
