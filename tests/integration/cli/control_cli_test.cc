// The control commands of the `lifeline` binary against a catalog made here.
#include <sys/wait.h>

#include <cstdio>

#include "control/catalog.h"
#include "control/plan.h"
#include "../../unit/control/test_util.h"

namespace lifeline::control {
namespace {

using testing::TempDir;
using Json = nlohmann::json;

struct Ran {
  int exit_code = -1;
  std::string out;
};

Ran RunCli(const std::string& args) {
  Ran r;
  std::string cmd = std::string(LIFELINE_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("catalog.db");
    auto c = Catalog::Open(path_);
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(*c);
    Job job;
    job.kind = "plan-drill";
    job.target = "web-app";
    std::vector<JobStep> steps(2);
    steps[0].name = "drill.prepare";
    steps[0].title = "prepare disks";
    steps[1].name = "plan.manual";
    steps[1].title = "check the app";
    auto id = catalog_->CreateJob(job, steps);
    ASSERT_TRUE(id.ok());
    job_ = *id;
    auto j = catalog_->GetJob(job_);
    j->steps[0].state = StepState::kDone;
    ASSERT_OK(catalog_->UpdateStep(j->steps[0]));
    j->steps[1].state = StepState::kRunning;
    ASSERT_OK(catalog_->UpdateStep(j->steps[1]));
    ASSERT_OK(catalog_->SetJobState(job_, JobState::kRunning));
    ASSERT_OK(catalog_->AppendLog(job_, 1, "info", "waiting for the operator"));
  }
  std::string Cat() const { return " --catalog " + path_; }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Catalog> catalog_;
  int64_t job_ = 0;
};

TEST_F(CliTest, JobListShowLog) {
  Ran list = RunCli("job list --json" + Cat());
  ASSERT_EQ(list.exit_code, 0);
  Json j = Json::parse(list.out);
  ASSERT_EQ(j["jobs"].size(), 1u);
  EXPECT_EQ(j["jobs"][0]["state"], "running");
  EXPECT_EQ(j["jobs"][0]["progress_percent"], 50);
  Ran filtered = RunCli("job list --json --state done" + Cat());
  EXPECT_TRUE(Json::parse(filtered.out)["jobs"].empty());
  EXPECT_EQ(RunCli("job list --state sleeping" + Cat()).exit_code, 2);

  Ran show = RunCli("job show --json " + std::to_string(job_) + Cat());
  ASSERT_EQ(show.exit_code, 0);
  Json s = Json::parse(show.out);
  EXPECT_EQ(s["steps"][1]["state"], "running");
  EXPECT_EQ(s["steps"][0]["title"], "prepare disks");

  Ran log = RunCli("job log --json " + std::to_string(job_) + Cat());
  ASSERT_EQ(log.exit_code, 0);
  EXPECT_EQ(Json::parse(log.out)["lines"][0]["text"], "waiting for the operator");

  Ran missing = RunCli("job show --json 999" + Cat());
  EXPECT_EQ(missing.exit_code, 10);
  EXPECT_EQ(Json::parse(missing.out)["error"]["code"], "NotFound");
  EXPECT_EQ(RunCli("job list --catalog " + dir_.File("none.db")).exit_code, 10);
}

TEST_F(CliTest, ContinueAndCancel) {
  Ran cont = RunCli("plan continue --json " + std::to_string(job_) + Cat());
  ASSERT_EQ(cont.exit_code, 0) << cont.out;
  auto took = catalog_->TakeSignal(job_, 1, "continue");
  ASSERT_TRUE(took.ok());
  EXPECT_TRUE(*took);
  Ran cancel = RunCli("job cancel --json " + std::to_string(job_) + Cat());
  ASSERT_EQ(cancel.exit_code, 0);
  EXPECT_TRUE(*catalog_->CancelRequested(job_));
  ASSERT_OK(catalog_->SetJobState(job_, JobState::kCancelled));
  EXPECT_EQ(RunCli("job cancel " + std::to_string(job_) + Cat()).exit_code, 1);
  EXPECT_EQ(RunCli("plan continue " + std::to_string(job_) + Cat()).exit_code, 1);
}

TEST_F(CliTest, FollowEndsWithTheJobsOutcome) {
  ASSERT_OK(catalog_->SetJobState(job_, JobState::kFailed, "boom"));
  EXPECT_EQ(RunCli("job show --follow " + std::to_string(job_) + Cat()).exit_code, 1);
  ASSERT_OK(catalog_->SetJobState(job_, JobState::kDone));
  EXPECT_EQ(RunCli("job show --follow " + std::to_string(job_) + Cat()).exit_code, 0);
}

TEST_F(CliTest, PlanValidate) {
  std::string good = std::string(LIFELINE_SOURCE_DIR) + "/examples/plans/web-app.yaml";
  Ran ok = RunCli("plan validate --json " + good);
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  Json j = Json::parse(ok.out);
  EXPECT_TRUE(j["valid"].get<bool>());
  EXPECT_EQ(j["plan"]["groups"].size(), 3u);
  // Against a catalog without those machines, the plan is refused with names.
  Ran against = RunCli("plan validate --json " + good + Cat());
  EXPECT_EQ(against.exit_code, 1);
  EXPECT_NE(against.out.find("machine db1 is not protected by this vault"), std::string::npos);
  testing::WriteFile(dir_.File("bad.yaml"), "name: x\ngroups:\n  - machines: [a]\n    befor: []\n");
  Ran bad = RunCli("plan validate --json " + dir_.File("bad.yaml"));
  EXPECT_EQ(bad.exit_code, 1);
  Json b = Json::parse(bad.out);
  EXPECT_FALSE(b["valid"].get<bool>());
  EXPECT_EQ(b["issues"][0]["line"], 4);
  EXPECT_NE(b["issues"][0]["message"].get<std::string>().find("did you mean 'before'"),
            std::string::npos);
  EXPECT_EQ(RunCli("plan validate " + dir_.File("nope.yaml")).exit_code, 10);
}

TEST_F(CliTest, PlanImportChecksMachinesThenStores) {
  std::string good = std::string(LIFELINE_SOURCE_DIR) + "/examples/plans/drill-smoke.yaml";
  Ran refused = RunCli("plan import --json " + good + Cat());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("machine web1 is not protected by this vault"), std::string::npos)
      << refused.out;
  for (const char* name : {"web1", "db1"}) {
    Machine m;
    m.name = name;
    ASSERT_TRUE(catalog_->AddMachine(m).ok());
  }
  Ran ok = RunCli("plan import --json " + good + Cat());
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  auto plan = LoadPlan(catalog_.get(), "drill-smoke");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->Machines(), (std::vector<std::string>{"web1", "db1"}));
  Ran list = RunCli("plan list --json" + Cat());
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_EQ(Json::parse(list.out)["plans"][0]["name"], "drill-smoke");
}

TEST(PlanExamples, EveryExampleIsValid) {
  int count = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(LIFELINE_SOURCE_DIR) + "/examples/plans")) {
    if (e.path().extension() != ".yaml") continue;
    auto plan = ParsePlan(testing::ReadFile(e.path()), e.path().filename());
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    ++count;
  }
  EXPECT_GE(count, 3);
}

}  // namespace
}  // namespace lifeline::control
