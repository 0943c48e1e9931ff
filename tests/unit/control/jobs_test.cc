#include "control/jobs.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::TempDir;
using Json = nlohmann::json;

// What the test steps did, shared with the test body.
struct World {
  std::mutex mu;
  std::vector<std::string> events;
  std::map<std::string, std::string> mode;  // id -> "fail" | "block" | "finish-on-stop"
  std::string blocked;                      // id of the step now blocking
  int Count(const std::string& e) {
    std::lock_guard l(mu);
    return static_cast<int>(std::count(events.begin(), events.end(), e));
  }
  void Add(const std::string& e) {
    std::lock_guard l(mu);
    events.push_back(e);
  }
};

class TestStep final : public Step {
 public:
  TestStep(World* w, std::string id, bool resumable)
      : w_(w), id_(std::move(id)), resumable_(resumable) {}
  bool Resumable() const override { return resumable_; }
  Status Run(StepContext& ctx) override {
    w_->Add("run:" + id_);
    std::string mode;
    {
      std::lock_guard l(w_->mu);
      mode = w_->mode.count(id_) ? w_->mode[id_] : "";
    }
    ctx.Progress(50);
    ctx.Log("step " + id_ + " half way");
    if (mode == "fail") return Status::IOError("step " + id_ + " broke");
    if (mode == "block" || mode == "finish-on-stop") {
      {
        std::lock_guard l(w_->mu);
        w_->blocked = id_;
      }
      while (!ctx.ShouldStop()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      // "block" gives up like a step whose work was cut short; "finish-on-stop" completes,
      // so the runner stops between this step and the next.
      if (mode == "block") return Status::Busy("interrupted");
    }
    return Status::Ok();
  }
  Status Rollback(StepContext&) override {
    w_->Add("rollback:" + id_);
    return Status::Ok();
  }

 private:
  World* w_;
  std::string id_;
  bool resumable_;
};

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(
        registry_.Register("test.step", [this](const Json& args) -> Result<std::unique_ptr<Step>> {
          return std::unique_ptr<Step>(
              new TestStep(&world_, args.value("id", "?"), args.value("resumable", false)));
        }));
    Open();
  }
  void Open() {
    runner_.reset();
    catalog_.reset();
    auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    RunnerOptions o;
    o.poll_interval_ms = 5;
    runner_ = std::make_unique<JobRunner>(catalog_.get(), &registry_, o);
  }
  JobSpec Spec(std::vector<std::pair<std::string, bool>> steps) {
    JobSpec spec;
    spec.kind = "test";
    spec.target = "m1";
    for (auto& [id, resumable] : steps)
      spec.steps.push_back({"test.step", "step " + id, {{"id", id}, {"resumable", resumable}}});
    return spec;
  }
  void WaitBlocked(const std::string& id) {
    for (int i = 0; i < 2500; ++i) {
      {
        std::lock_guard l(world_.mu);
        if (world_.blocked == id) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    FAIL() << "step " << id << " never blocked";
  }
  // Stops the runner while `id` blocks, as a crash of the vault would, and reopens.
  int64_t RunUntilStoppedAt(const std::string& id, JobSpec spec) {
    auto job = runner_->Submit(spec);
    EXPECT_TRUE(job.ok());
    WaitBlocked(id);
    runner_->Stop();
    {
      std::lock_guard l(world_.mu);
      world_.mode.clear();
    }
    Open();
    return *job;
  }

  TempDir dir_;
  ManualClock clock_;
  World world_;
  StepRegistry registry_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<JobRunner> runner_;
};

TEST_F(JobsTest, RunsStepsInOrder) {
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(int64_t id,
                       runner_->Submit(Spec({{"A", false}, {"B", false}, {"C", false}})));
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_EQ(job.ProgressPercent(), 100);
  for (const JobStep& s : job.steps) EXPECT_EQ(s.state, StepState::kDone);
  std::vector<std::string> expect = {"run:A", "run:B", "run:C"};
  EXPECT_EQ(world_.events, expect);
  ASSERT_OK_AND_ASSIGN(std::vector<JobLogLine> log, catalog_->GetLog(id));
  EXPECT_GE(log.size(), 6u);
}

TEST_F(JobsTest, FailedStepRollsBackInReverse) {
  world_.mode["C"] = "fail";
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(
      int64_t id, runner_->Submit(Spec({{"A", false}, {"B", false}, {"C", false}, {"D", false}})));
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("step 3 (test.step) failed"), std::string::npos) << job.error;
  std::vector<std::string> expect = {"run:A",      "run:B",      "run:C",
                                     "rollback:C", "rollback:B", "rollback:A"};
  EXPECT_EQ(world_.events, expect);
  EXPECT_EQ(job.steps[3].state, StepState::kPending);
  EXPECT_EQ(job.steps[0].state, StepState::kRolledBack);
}

TEST_F(JobsTest, FailureWithoutRollbackKeepsCompletedSteps) {
  world_.mode["B"] = "fail";
  ASSERT_OK(runner_->Start());
  JobSpec spec = Spec({{"A", false}, {"B", false}, {"C", false}});
  spec.rollback_on_failure = false;
  ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(spec));
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(world_.Count("rollback:A"), 0);
  EXPECT_EQ(job.steps[0].state, StepState::kDone);
  EXPECT_EQ(job.steps[1].state, StepState::kFailed);
}

TEST_F(JobsTest, CancelStopsTheStepAndRollsBack) {
  world_.mode["B"] = "block";
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(int64_t id,
                       runner_->Submit(Spec({{"A", false}, {"B", false}, {"C", false}})));
  WaitBlocked("B");
  ASSERT_OK(runner_->Cancel(id));
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_EQ(world_.Count("run:C"), 0);
  EXPECT_EQ(world_.Count("rollback:B"), 1);
  EXPECT_EQ(world_.Count("rollback:A"), 1);
  EXPECT_EQ(runner_->Cancel(id).code(), Code::kFailedPrecondition);
}

TEST_F(JobsTest, CancelFromAnotherProcessWhileStoppedIsHonouredAtStart) {
  ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(Spec({{"A", false}})));
  ASSERT_OK(catalog_->RequestCancel(id));  // what `lifeline job cancel` does
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_EQ(world_.Count("run:A"), 0);
}

TEST_F(JobsTest, ResumesAtResumableStepAfterRestart) {
  world_.mode["B"] = "block";
  ASSERT_OK(runner_->Start());
  int64_t id = RunUntilStoppedAt("B", Spec({{"A", false}, {"B", true}, {"C", false}}));
  // What the crash left behind: A done, B running, C pending, the job running.
  ASSERT_OK_AND_ASSIGN(Job left, catalog_->GetJob(id));
  EXPECT_EQ(left.state, JobState::kRunning);
  EXPECT_EQ(left.steps[0].state, StepState::kDone);
  EXPECT_EQ(left.steps[1].state, StepState::kRunning);
  EXPECT_EQ(left.steps[2].state, StepState::kPending);
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_EQ(world_.Count("run:A"), 1);
  EXPECT_EQ(world_.Count("run:B"), 2);
  EXPECT_EQ(world_.Count("run:C"), 1);
  EXPECT_EQ(world_.Count("rollback:A"), 0);
  EXPECT_EQ(job.steps[1].attempts, 2);
  auto rec = runner_->recovered();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].action, "resume");
}

TEST_F(JobsTest, RollsBackWhenInterruptedStepCannotResume) {
  world_.mode["B"] = "block";
  ASSERT_OK(runner_->Start());
  int64_t id = RunUntilStoppedAt("B", Spec({{"A", false}, {"B", false}, {"C", false}}));
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kRolledBack);
  EXPECT_NE(job.error.find("cannot resume"), std::string::npos) << job.error;
  std::vector<std::string> expect = {"run:A", "run:B", "rollback:B", "rollback:A"};
  EXPECT_EQ(world_.events, expect);
  EXPECT_EQ(job.steps[2].state, StepState::kPending);
  auto rec = runner_->recovered();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].action, "rollback");
}

TEST_F(JobsTest, StoppedBetweenStepsResumesOrRollsBackByNextStep) {
  // Between steps: A completes as the runner stops, B never started.
  world_.mode["A"] = "finish-on-stop";
  ASSERT_OK(runner_->Start());
  int64_t resumable_job = RunUntilStoppedAt("A", Spec({{"A", false}, {"B", true}}));
  ASSERT_OK_AND_ASSIGN(Job left, catalog_->GetJob(resumable_job));
  EXPECT_EQ(left.steps[0].state, StepState::kDone);
  EXPECT_EQ(left.steps[1].state, StepState::kPending);
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job done, runner_->Wait(resumable_job, 10000));
  EXPECT_EQ(done.state, JobState::kDone);
  EXPECT_EQ(world_.Count("run:A"), 1);
  EXPECT_EQ(world_.Count("run:B"), 1);

  world_.events.clear();
  world_.blocked.clear();
  world_.mode["X"] = "finish-on-stop";
  int64_t fixed_job = RunUntilStoppedAt("X", Spec({{"X", false}, {"Y", false}}));
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job rolled, runner_->Wait(fixed_job, 10000));
  EXPECT_EQ(rolled.state, JobState::kRolledBack);
  std::vector<std::string> expect = {"run:X", "rollback:X"};
  EXPECT_EQ(world_.events, expect);
}

TEST_F(JobsTest, PendingJobsStartAfterRestart) {
  ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(Spec({{"A", false}})));  // never started
  Open();
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(Job job, runner_->Wait(id, 10000));
  EXPECT_EQ(job.state, JobState::kDone);
}

TEST_F(JobsTest, SubmitChecksNamesAndQueueBound) {
  JobSpec bad;
  bad.kind = "x";
  bad.steps.push_back({"no.such.step", "", Json::object()});
  auto r = runner_->Submit(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  RunnerOptions o;
  o.max_queued_jobs = 2;
  JobRunner small(catalog_.get(), &registry_, o);  // not started: the queue only fills
  EXPECT_TRUE(small.Submit(Spec({{"A", false}})).ok());
  EXPECT_TRUE(small.Submit(Spec({{"A", false}})).ok());
  auto full = small.Submit(Spec({{"A", false}}));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kBusy);
  EXPECT_EQ(registry_.Register("test.step", nullptr).code(), Code::kInvalidArgument);
}

TEST_F(JobsTest, JobsRunSideBySide) {
  // Two workers: a job waiting (like a manual step) does not hold up the next one.
  world_.mode["slow"] = "block";
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(int64_t slow, runner_->Submit(Spec({{"slow", false}})));
  WaitBlocked("slow");
  std::vector<int64_t> quick;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(Spec({{"q" + std::to_string(i), false}})));
    quick.push_back(id);
  }
  for (int64_t id : quick) {
    ASSERT_OK_AND_ASSIGN(Job j, runner_->Wait(id, 10000));
    EXPECT_EQ(j.state, JobState::kDone);
  }
  ASSERT_OK_AND_ASSIGN(Job still, catalog_->GetJob(slow));
  EXPECT_EQ(still.state, JobState::kRunning);
  ASSERT_OK(runner_->Cancel(slow));
  ASSERT_OK_AND_ASSIGN(Job cancelled, runner_->Wait(slow, 10000));
  EXPECT_EQ(cancelled.state, JobState::kCancelled);
}

TEST_F(JobsTest, WaitTimesOutOnARunningJob) {
  world_.mode["A"] = "block";
  ASSERT_OK(runner_->Start());
  ASSERT_OK_AND_ASSIGN(int64_t id, runner_->Submit(Spec({{"A", false}})));
  WaitBlocked("A");
  auto r = runner_->Wait(id, 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBusy);
  ASSERT_OK_AND_ASSIGN(Job job, catalog_->GetJob(id));
  EXPECT_EQ(job.steps[0].progress_percent, 50);
  EXPECT_EQ(job.ProgressPercent(), 50);
  ASSERT_OK(runner_->Cancel(id));
  ASSERT_TRUE(runner_->Wait(id, 10000).ok());
}

}  // namespace
}  // namespace lifeline::control

// A real crash: the vault process dies by SIGKILL in the middle of a step. The catalog
// (WAL, synchronous=FULL) keeps every committed step state, and a new runner resumes or
// rolls back.
namespace lifeline::control {
namespace {

std::atomic<bool> g_block_in_child{false};
std::atomic<int> g_runs_b{0};
std::atomic<int> g_rollbacks{0};

class CrashStep final : public Step {
 public:
  CrashStep(std::string id, bool resumable, std::string marker)
      : id_(std::move(id)), resumable_(resumable), marker_(std::move(marker)) {}
  bool Resumable() const override { return resumable_; }
  Status Run(StepContext& ctx) override {
    ctx.Log("running " + id_);
    if (id_ == "B") {
      g_runs_b++;
      if (g_block_in_child) {
        testing::WriteFile(marker_, "in B");
        while (true) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // killed here
      }
    }
    return Status::Ok();
  }
  Status Rollback(StepContext&) override {
    g_rollbacks++;
    return Status::Ok();
  }

 private:
  std::string id_;
  bool resumable_;
  std::string marker_;
};

void CrashAndRecover(bool resumable, JobState expect) {
  TempDir dir;
  std::string path = dir.File("catalog.db");
  std::string marker = dir.File("marker");
  StepRegistry registry;
  ASSERT_OK(registry.Register("crash.step", [&](const Json& args) -> Result<std::unique_ptr<Step>> {
    return std::unique_ptr<Step>(
        new CrashStep(args.value("id", "?"), args.value("resumable", false), marker));
  }));
  JobSpec spec;
  spec.kind = "crash";
  spec.target = "m";
  for (const char* id : {"A", "B", "C"}) {
    spec.steps.push_back({"crash.step", id, {{"id", id}, {"resumable", resumable}}});
  }
  g_block_in_child = true;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = Catalog::Open(path);
    if (!c.ok()) _exit(3);
    JobRunner runner(c->get(), &registry);
    if (!runner.Start().ok() || !runner.Submit(spec).ok()) _exit(4);
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  g_block_in_child = false;
  bool reached = false;
  for (int i = 0; i < 1000 && !reached; ++i) {
    reached = std::filesystem::exists(marker);
    if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(reached) << "the child never reached step B (exit status " << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status));

  auto c = Catalog::Open(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto left = (*c)->ListUnfinishedJobs();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  const Job& job = (*left)[0];
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.steps[0].state, StepState::kDone);
  EXPECT_EQ(job.steps[1].state, StepState::kRunning);
  EXPECT_EQ(job.steps[2].state, StepState::kPending);
  g_runs_b = 0;
  g_rollbacks = 0;
  RunnerOptions o;
  o.poll_interval_ms = 5;
  JobRunner runner(c->get(), &registry, o);
  ASSERT_OK(runner.Start());
  auto done = runner.Wait(job.id, 10000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, expect) << done->error;
  if (resumable) {
    EXPECT_EQ(g_runs_b.load(), 1);  // B again, then C
    EXPECT_EQ(done->steps[2].state, StepState::kDone);
    EXPECT_EQ(g_rollbacks.load(), 0);
  } else {
    EXPECT_EQ(g_runs_b.load(), 0);
    EXPECT_EQ(g_rollbacks.load(), 2);  // B (interrupted) and A
    EXPECT_EQ(done->steps[2].state, StepState::kPending);
  }
}

TEST(JobsCrash, SigkillMidStepThenResume) { CrashAndRecover(true, JobState::kDone); }
TEST(JobsCrash, SigkillMidStepThenRollBack) { CrashAndRecover(false, JobState::kRolledBack); }

}  // namespace
}  // namespace lifeline::control
