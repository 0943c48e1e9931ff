// Plans run as jobs: scripts with the plan's environment, timeouts that kill the process
// group, on_failure policies, manual steps continued through the catalog, network steps.
#include <signal.h>

#include <chrono>
#include <thread>

#include "control/plan.h"
#include "control/plan_steps.h"
#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using Json = nlohmann::json;

// Machine steps stand in for the drill/failover code: they record the group they started.
class RecordMachines final : public Step {
 public:
  RecordMachines(std::vector<std::string>* out, Json args) : out_(out), args_(std::move(args)) {}
  Status Run(StepContext&) override {
    out_->push_back(args_.value("group", "all") + ":" + args_["machines"].dump());
    return Status::Ok();
  }

 private:
  std::vector<std::string>* out_;
  Json args_;
};

class PlanRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(*c);
    for (const char* name : {"drill.prepare", "drill.start-group", "failover.shutdown",
                             "failover.prepare", "failover.start-group"}) {
      ASSERT_OK(
          registry_.Register(name, [this](const Json& args) -> Result<std::unique_ptr<Step>> {
            return std::unique_ptr<Step>(new RecordMachines(&started_, args));
          }));
    }
    NetworkStep connect;
    connect.run = [this](StepContext& ctx, const std::map<std::string, std::string>& args) {
      network_calls_.push_back(args.count("circuit") ? args.at("circuit") : "?");
      ctx.Log("connected");
      return network_fail_ ? Status::IOError("circuit down") : Status::Ok();
    };
    ASSERT_OK(network_.Register("connect-circuit", connect));
    PlanStepOptions o;
    o.network = &network_;
    o.retry_backoff_ms = 10;
    o.kill_grace_ms = 500;
    ASSERT_OK(RegisterPlanSteps(&registry_, o));
    RunnerOptions ro;
    ro.poll_interval_ms = 5;
    runner_ = std::make_unique<JobRunner>(catalog_.get(), &registry_, ro);
    ASSERT_OK(runner_->Start());
  }
  void TearDown() override { runner_->Stop(); }

  Result<Job> Run(const std::string& yaml, Operation op, int64_t timeout_ms = 20000) {
    LL_ASSIGN_OR_RETURN(Plan plan, ParsePlan(yaml, "plan.yaml"));
    LL_ASSIGN_OR_RETURN(JobSpec spec, BuildPlanJob(plan, op));
    LL_ASSIGN_OR_RETURN(int64_t id, runner_->Submit(spec));
    return runner_->Wait(id, timeout_ms);
  }
  std::string LogText(int64_t job) {
    std::string out;
    auto log = catalog_->GetLog(job, 0, 10000);
    for (const auto& l : *log) out += l.level + " " + l.text + "\n";
    return out;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Catalog> catalog_;
  StepRegistry registry_;
  NetworkStepRegistry network_;
  std::unique_ptr<JobRunner> runner_;
  std::vector<std::string> started_;
  std::vector<std::string> network_calls_;
  bool network_fail_ = false;
};

TEST_F(PlanRunTest, ScriptGetsThePlanEnvironmentAndGroupsStartInOrder) {
  std::string script = dir_.File("env.sh");
  WriteFile(
      script,
      "#!/bin/sh\nenv | grep -E '^(LIFELINE_|DB_ROLE)' | sort > \"$OUT\"\necho hello from script\n",
      true);
  std::string yaml =
      "name: web\ngroups:\n  - name: data\n    machines: [db1, db2]\n    before:\n"
      "      - name: record\n        script:\n          path: " +
      script + "\n          env: {DB_ROLE: primary, OUT: " + dir_.File("env.txt") +
      "}\n"
      "  - name: app\n    machines: [app1]\n";
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kFailover));
  ASSERT_EQ(job.state, JobState::kDone) << job.error << "\n" << LogText(job.id);
  std::string env = ReadFile(dir_.File("env.txt"));
  EXPECT_NE(env.find("LIFELINE_PLAN=web\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LIFELINE_GROUP=data\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LIFELINE_OPERATION=failover\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LIFELINE_MACHINES=db1,db2\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LIFELINE_JOB_ID=" + std::to_string(job.id) + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("DB_ROLE=primary\n"), std::string::npos) << env;
  EXPECT_NE(LogText(job.id).find("[record] hello from script"), std::string::npos);
  std::vector<std::string> expect = {"all:[\"db1\",\"db2\",\"app1\"]",
                                     "all:[\"db1\",\"db2\",\"app1\"]", "data:[\"db1\",\"db2\"]",
                                     "app:[\"app1\"]"};
  EXPECT_EQ(started_, expect);
}

TEST_F(PlanRunTest, TimeoutKillsTheWholeProcessGroup) {
  std::string script = dir_.File("hang.sh");
  std::string pidfile = dir_.File("child.pid");
  WriteFile(script, "#!/bin/sh\nsleep 60 &\necho $! > " + pidfile + "\nwait\n", true);
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    before:\n      - name: hang\n        script: "
      "{path: " +
      script + ", timeout_s: 1}\n";
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kDrill));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("timed out after 1 s"), std::string::npos) << job.error;
  EXPECT_LT(seconds, 10.0);
  pid_t child = std::stoi(ReadFile(pidfile));
  // The background sleep was in the script's group: it is gone too (reaped by init).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::string stat = ReadFile("/proc/" + std::to_string(child) + "/stat");
    // Dead, or a zombie waiting for a reaper (containers may lack one).
    gone = kill(child, 0) != 0 || stat.find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "child " << child << " survived the timeout";
  EXPECT_TRUE(started_.size() == 1u) << "the group after a failed abort action must not start";
}

TEST_F(PlanRunTest, RetryThenSucceed) {
  std::string counter = dir_.File("count");
  std::string script = dir_.File("flaky.sh");
  WriteFile(script, "#!/bin/sh\necho x >> " + counter + "\n[ \"$LIFELINE_ATTEMPT\" -ge 3 ]\n",
            true);
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    after:\n      - name: flaky\n        script: "
      "{path: " +
      script + "}\n        on_failure: retry(2)\n";
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kDrill));
  EXPECT_EQ(job.state, JobState::kDone) << job.error;
  EXPECT_EQ(ReadFile(counter), "x\nx\nx\n");
  EXPECT_NE(LogText(job.id).find("attempt 1 of 3 failed"), std::string::npos);
}

TEST_F(PlanRunTest, ContinueAndAbort) {
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    before:\n      - name: bad\n        script: {path: "
      "/bin/false}\n"
      "        on_failure: continue\n  - machines: [b]\n    before:\n      - name: worse\n"
      "        script: {path: /bin/false}\n";
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kDrill));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("action 'worse'"), std::string::npos) << job.error;
  EXPECT_NE(LogText(job.id).find("on_failure is continue"), std::string::npos);
  // Group 1 started despite 'bad'; group 2 never did because 'worse' aborted the plan.
  std::vector<std::string> expect = {"all:[\"a\",\"b\"]", "group-1:[\"a\"]"};
  EXPECT_EQ(started_, expect);
}

TEST_F(PlanRunTest, ManualStepWaitsForContinue) {
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    after:\n      - name: look\n"
      "        manual: {message: check the app}\n";
  ASSERT_OK_AND_ASSIGN(Plan plan, ParsePlan(yaml, "p"));
  ASSERT_OK_AND_ASSIGN(JobSpec spec, BuildPlanJob(plan, Operation::kDrill));
  ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(spec));
  // Still waiting after a while.
  EXPECT_EQ(runner_->Wait(id, 200).status().code(), Code::kBusy);
  ASSERT_OK_AND_ASSIGN(Job waiting, catalog_->GetJob(id));
  EXPECT_EQ(waiting.steps[2].state, StepState::kRunning);
  EXPECT_NE(LogText(id).find("lifeline plan continue " + std::to_string(id)), std::string::npos);
  ASSERT_OK(catalog_->PostSignal(id, 2, "continue"));  // what `lifeline plan continue` does
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 5000));
  EXPECT_EQ(job.state, JobState::kDone);
}

TEST_F(PlanRunTest, ManualTimeoutFollowsOnFailure) {
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    after:\n      - name: look\n"
      "        manual: {message: m, timeout_s: 1}\n        on_failure: continue\n";
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kDrill));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_NE(LogText(job.id).find("nobody continued within 1 s"), std::string::npos);
}

TEST_F(PlanRunTest, NetworkStepsResolveThroughTheRegistry) {
  std::string yaml =
      "name: p\ngroups:\n  - machines: [a]\n    after:\n      - network: {step: connect-circuit, "
      "args: {circuit: er-hk}}\n"
      "      - name: missing\n        network: {step: no-such-step}\n";
  ASSERT_OK_AND_ASSIGN(Job job, Run(yaml, Operation::kFailover));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(network_calls_, std::vector<std::string>{"er-hk"});
  EXPECT_NE(job.error.find("no network step named 'no-such-step'"), std::string::npos) << job.error;
}

// A plan with one network action (the names `net plan` prints) and its on_failure.
std::string NetworkPlan(const std::string& step, const std::string& args,
                        const std::string& on_failure = "abort") {
  return "name: web\ngroups:\n  - machines: [a]\n    before:\n      - name: net1\n"
         "        network: {step: " + step + ", args: {" + args + "}}\n"
         "        on_failure: " + on_failure + "\n";
}

TEST_F(PlanRunTest, CommandDriverRunsAnyStepWithItsEnvironment) {
  std::string script = dir_.File("net.sh");
  std::string out = dir_.File("net-env.txt");
  WriteFile(script,
            "#!/bin/sh\necho \"step $1\"\nenv | grep -E '^LIFELINE_' | sort > " + out + "\n", true);
  network_.SetDriver(MakeCommandNetworkDriver({.path = script}));
  ASSERT_OK_AND_ASSIGN(Job job, Run(NetworkPlan("disconnect-connection",
                                                "connection: dr-er-a, peer-asn: '65010'"),
                                    Operation::kFailover));
  ASSERT_EQ(job.state, JobState::kDone) << job.error << "\n" << LogText(job.id);
  std::string env = ReadFile(out);
  for (const char* want :
       {"LIFELINE_NET_STEP=disconnect-connection\n", "LIFELINE_NET_ARG_CONNECTION=dr-er-a\n",
        "LIFELINE_NET_ARG_PEER_ASN=65010\n", "LIFELINE_PLAN=web\n",
        "LIFELINE_OPERATION=failover\n", "LIFELINE_ACTION=net1\n", "LIFELINE_ATTEMPT=1\n",
        "LIFELINE_SIDE=before\n"})
    EXPECT_NE(env.find(want), std::string::npos) << want << " missing in\n" << env;
  EXPECT_NE(LogText(job.id).find("[disconnect-connection] step disconnect-connection"),
            std::string::npos)
      << LogText(job.id);
  // A step registered by name still wins over the driver.
  ASSERT_OK_AND_ASSIGN(Job named, Run(NetworkPlan("connect-circuit", "circuit: er-b"),
                                      Operation::kFailover));
  EXPECT_EQ(named.state, JobState::kDone) << named.error;
  EXPECT_EQ(network_calls_, std::vector<std::string>{"er-b"});
}

TEST_F(PlanRunTest, CommandDriverFailureFollowsEachPolicy) {
  std::string counter = dir_.File("count");
  std::string script = dir_.File("net-fail.sh");
  WriteFile(script, "#!/bin/sh\necho x >> " + counter + "\necho 'no route' >&2\nexit 3\n", true);
  network_.SetDriver(MakeCommandNetworkDriver({.path = script}));
  // abort: the plan fails, naming the action and the exit code; the group never starts.
  ASSERT_OK_AND_ASSIGN(Job a, Run(NetworkPlan("create-route-table", "name: rt"),
                                  Operation::kFailover));
  EXPECT_EQ(a.state, JobState::kFailed);
  EXPECT_NE(a.error.find("action 'net1'"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("exited with code 3"), std::string::npos) << a.error;
  EXPECT_NE(LogText(a.id).find("no route"), std::string::npos);
  EXPECT_EQ(ReadFile(counter), "x\n");
  for (const auto& s : started_)  // shutdown and prepare ran; the group never started
    EXPECT_NE(s.rfind("group-", 0), 0u) << s;
  EXPECT_EQ(started_.size(), 2u);
  // continue: a warning, the plan goes on.
  ASSERT_OK_AND_ASSIGN(Job c, Run(NetworkPlan("create-route-table", "name: rt", "continue"),
                                  Operation::kFailover));
  EXPECT_EQ(c.state, JobState::kDone) << c.error;
  EXPECT_NE(LogText(c.id).find("on_failure is continue"), std::string::npos);
  // retry(2): three attempts, then the plan fails.
  ASSERT_OK_AND_ASSIGN(Job r, Run(NetworkPlan("create-route-table", "name: rt", "retry(2)"),
                                  Operation::kFailover));
  EXPECT_EQ(r.state, JobState::kFailed);
  EXPECT_EQ(ReadFile(counter), "x\nx\nx\nx\nx\n");
  EXPECT_NE(LogText(r.id).find("attempt 2 of 3 failed"), std::string::npos);
}

TEST_F(PlanRunTest, CommandDriverTimeoutKillsTheStep) {
  std::string script = dir_.File("net-hang.sh");
  WriteFile(script, "#!/bin/sh\nsleep 60\n", true);
  network_.SetDriver(MakeCommandNetworkDriver({.path = script, .kill_grace_ms = 500}));
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Job job, Run(NetworkPlan("onprem-routing", "timeout_s: '1'"),
                                    Operation::kFailover));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("timed out after 1 s"), std::string::npos) << job.error;
  EXPECT_LT(seconds, 10.0);
  // A bad timeout is refused before anything runs.
  ASSERT_OK_AND_ASSIGN(Job bad, Run(NetworkPlan("onprem-routing", "timeout_s: soon"),
                                    Operation::kFailover));
  EXPECT_EQ(bad.state, JobState::kFailed);
  EXPECT_NE(bad.error.find("timeout_s must be 1..86400"), std::string::npos) << bad.error;
}

TEST_F(PlanRunTest, WithoutADriverAnUnregisteredStepSaysHowToConfigureOne) {
  ASSERT_OK_AND_ASSIGN(Job job, Run(NetworkPlan("create-gateway", "gateway: ergw"),
                                    Operation::kFailover));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("--network-driver"), std::string::npos) << job.error;
}

TEST(NetworkArgEnv, UpperCasesAndReplaces) {
  EXPECT_EQ(NetworkArgEnvName("connection"), "LIFELINE_NET_ARG_CONNECTION");
  EXPECT_EQ(NetworkArgEnvName("peer-asn.v4"), "LIFELINE_NET_ARG_PEER_ASN_V4");
}

}  // namespace
}  // namespace lifeline::control
