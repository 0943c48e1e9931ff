// A drill end to end through the control plane: a job (or a plan) starts recovered copies
// with the command launcher in the drill network, then a cleanup job stops them.
#include <signal.h>

#include <chrono>
#include <thread>

#include "control/drill_steps.h"
#include "control/plan.h"
#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using Json = nlohmann::json;

class FakeExporter final : public DiskExporter {
 public:
  Result<LaunchDisk> Export(const Machine& m, const Disk& d, const std::string& point) override {
    std::lock_guard l(mu_);
    exports_.push_back(m.name + ":" + d.path + "@" + point);
    return LaunchDisk{"nbd://127.0.0.1:10809/" + m.name + "-" + std::to_string(d.id), "", "raw"};
  }
  Status Unexport(const Machine& m, const Disk& d) override {
    std::lock_guard l(mu_);
    unexports_.push_back(m.name + ":" + d.path);
    return Status::Ok();
  }
  std::mutex mu_;
  std::vector<std::string> exports_, unexports_;
};

bool Alive(int64_t pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.find(") Z ") == std::string::npos;
}

class DrillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(*c);
    lifecycle_ = std::make_unique<Lifecycle>(catalog_.get());
    std::string script = dir_.File("start-vm.sh");
    WriteFile(
        script,
        "#!/bin/sh\nenv | grep ^LIFELINE_ | sort > \"$PWD/$LIFELINE_MACHINE.env\"\nexec sleep 60\n",
        true);
    for (const char* name : {"web1", "db1"}) {
      Machine m;
      m.name = name;
      m.state = "protected";
      m.launcher = "command";
      m.launcher_config = Json{{"command", {script}}}.dump();
      m.nics = {{0, "lan", std::string(name) == "web1" ? "10.0.0.5" : "192.168.9.9",
                 "52:54:00:00:00:0" + std::to_string(next_++)}};
      ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->AddMachine(m));
      ASSERT_TRUE(catalog_->AddDisk({0, id, "/dev/vda", 1 << 30, "d"}).ok());
    }
    NetworkMapping nm;
    nm.source = "lan";
    nm.recovery = {"lan-dr", *Cidr::Parse("10.0.0.0/24"), IpAddress::Parse("10.0.0.1").value(), {}};
    nm.drill = {"lan-drill", *Cidr::Parse("10.0.0.0/24"), IpAddress::Parse("10.0.0.1").value(), {}};
    ASSERT_OK(catalog_->PutNetworkMapping(nm));
    DrillDeps d;
    d.catalog = catalog_.get();
    d.lifecycle = lifecycle_.get();
    d.exporter = &exporter_;
    d.launchers = &launchers_;
    d.work_dir = dir_.path();
    d.stop_grace_ms = 1000;
    ASSERT_OK(RegisterDrillSteps(&registry_, d));
    RunnerOptions o;
    o.poll_interval_ms = 5;
    runner_ = std::make_unique<JobRunner>(catalog_.get(), &registry_, o);
    ASSERT_OK(runner_->Start());
  }
  void TearDown() override {
    runner_->Stop();
    // Never leave a drill copy behind, whatever the test did.
    auto left = catalog_->ListInstances(0);
    if (left.ok()) {
      for (const Instance& in : *left) kill(-static_cast<pid_t>(in.pid), SIGKILL);
    }
  }
  Result<Job> RunJob(const JobSpec& spec) {
    LL_ASSIGN_OR_RETURN(int64_t id, runner_->Submit(spec));
    return runner_->Wait(id, 20000);
  }

  int next_ = 1;
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Lifecycle> lifecycle_;
  FakeExporter exporter_;
  LauncherRegistry launchers_ = LauncherRegistry::WithBuiltins();
  StepRegistry registry_;
  std::unique_ptr<JobRunner> runner_;
};

TEST_F(DrillTest, StartThenCleanUp) {
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(DrillJob({"web1", "db1"}, "latest-processed")));
  ASSERT_EQ(job.state, JobState::kDone) << job.error;
  ASSERT_OK_AND_ASSIGN(std::vector<Instance> instances, catalog_->ListInstances(0, "drill"));
  ASSERT_EQ(instances.size(), 2u);
  for (const Instance& in : instances) EXPECT_TRUE(Alive(in.pid)) << in.pid;
  EXPECT_EQ(catalog_->GetMachineByName("web1")->drill_state, "drill-running");
  EXPECT_EQ(catalog_->GetMachineByName("web1")->state, "protected");  // the drill is beside
  // The launcher saw the exported disk and the mapped address: web1 keeps 10.0.0.5 (free in
  // the drill subnet); db1's 192.168.9.9 is outside it, so it gets the next free one.
  std::string web = ReadFile(dir_.File("web1.env"));
  for (int i = 0; i < 200 && web.find("LIFELINE_NIC_0_IP") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    web = ReadFile(dir_.File("web1.env"));
  }
  EXPECT_NE(web.find("LIFELINE_DISK_0=nbd://127.0.0.1:10809/web1-1\n"), std::string::npos) << web;
  EXPECT_NE(web.find("LIFELINE_NIC_0_IP=10.0.0.5\n"), std::string::npos) << web;
  EXPECT_NE(web.find("LIFELINE_NIC_0_NETWORK=lan-drill\n"), std::string::npos) << web;
  EXPECT_NE(web.find("LIFELINE_OPERATION=drill\n"), std::string::npos) << web;
  EXPECT_EQ(instances[1].ips, "10.0.0.2");
  EXPECT_EQ(exporter_.exports_, (std::vector<std::string>{"web1:/dev/vda@latest-processed",
                                                          "db1:/dev/vda@latest-processed"}));

  // A failover is refused while the drill runs.
  EXPECT_EQ(lifecycle_->SetState("web1", MachineEvent::kFailoverStart, "t").status().code(),
            Code::kFailedPrecondition);

  ASSERT_OK_AND_ASSIGN(Job cleanup, RunJob(DrillCleanupJob({"web1", "db1"}, "quarterly drill ok")));
  ASSERT_EQ(cleanup.state, JobState::kDone) << cleanup.error;
  for (const Instance& in : instances) {
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = !Alive(in.pid);
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone) << "drill copy " << in.pid << " still runs";
  }
  EXPECT_TRUE(catalog_->ListInstances(0)->empty());
  EXPECT_EQ(catalog_->GetMachineByName("web1")->drill_state, "none");
  EXPECT_EQ(exporter_.unexports_.size(), 2u);
}

TEST_F(DrillTest, FailedStartRollsBackTheCopiesAlreadyStarted) {
  // db1's launcher is broken: web1 started first must be stopped again.
  ASSERT_OK_AND_ASSIGN(Machine db, catalog_->GetMachineByName("db1"));
  db.launcher_config = Json{{"comand", "x"}}.dump();
  ASSERT_OK(catalog_->UpdateMachineConfig(db));
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(DrillJob({"web1", "db1"}, "")));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("command launcher config"), std::string::npos) << job.error;
  EXPECT_TRUE(catalog_->ListInstances(0)->empty());
  EXPECT_EQ(catalog_->GetMachineByName("web1")->drill_state, "none");
  EXPECT_EQ(catalog_->GetMachineByName("db1")->drill_state, "none");
  // Ready for another try.
  ASSERT_OK(catalog_->UpdateMachineConfig([&] {
    Machine m = db;
    m.launcher_config = catalog_->GetMachineByName("web1")->launcher_config;
    return m;
  }()));
  ASSERT_OK_AND_ASSIGN(Job again, RunJob(DrillJob({"web1", "db1"}, "")));
  EXPECT_EQ(again.state, JobState::kDone) << again.error;
}

TEST_F(DrillTest, PrepareRefusesMachinesThatCannotDrill) {
  ASSERT_OK_AND_ASSIGN(Machine m, catalog_->GetMachineByName("db1"));
  ASSERT_OK(catalog_->SetMachineState(m.id, "protected", "initial-replication", "forward"));
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(DrillJob({"web1", "db1"}, "")));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("no recovery point yet"), std::string::npos) << job.error;
  EXPECT_TRUE(catalog_->ListInstances(0)->empty());
}

TEST_F(DrillTest, UnmappedNetworkIsRefusedBeforeAnythingStarts) {
  ASSERT_OK_AND_ASSIGN(Machine db, catalog_->GetMachineByName("db1"));
  db.nics.push_back({1, "storage", "172.20.0.9", ""});
  ASSERT_OK(catalog_->UpdateMachineConfig(db));
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(DrillJob({"web1", "db1"}, "")));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("db1 NIC 1: source network storage has no mapping"), std::string::npos)
      << job.error;
  EXPECT_NE(job.error.find("lifeline netmap add storage"), std::string::npos) << job.error;
  // drill.prepare refused it: nothing was exported or started, web1 included.
  EXPECT_TRUE(exporter_.exports_.empty());
  EXPECT_TRUE(catalog_->ListInstances(0)->empty());
  EXPECT_EQ(catalog_->GetMachineByName("web1")->drill_state, "none");
}

TEST_F(DrillTest, StaticRuleFromTheCatalogAppliesWhenTheAddressCannotBeKept) {
  // db1's 192.168.9.9 is outside the drill subnet: its static drill rule applies; a recovery
  // rule for the same NIC does not.
  ASSERT_OK(catalog_->PutStaticIp({"db1", 0, NetworkMode::kDrill, *IpAddress::Parse("10.0.0.77")}));
  ASSERT_OK(
      catalog_->PutStaticIp({"db1", 0, NetworkMode::kRecovery, *IpAddress::Parse("10.0.0.88")}));
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(DrillJob({"web1", "db1"}, "")));
  ASSERT_EQ(job.state, JobState::kDone) << job.error;
  ASSERT_OK_AND_ASSIGN(Machine db, catalog_->GetMachineByName("db1"));
  ASSERT_OK_AND_ASSIGN(std::vector<Instance> instances, catalog_->ListInstances(db.id, "drill"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].ips, "10.0.0.77");
  ASSERT_OK_AND_ASSIGN(Job cleanup, RunJob(DrillCleanupJob({"web1", "db1"}, "")));
  EXPECT_EQ(cleanup.state, JobState::kDone) << cleanup.error;
}

TEST_F(DrillTest, PlanDrillStartsGroupsInOrder) {
  std::string yaml =
      "name: app\ngroups:\n  - name: data\n    machines: [db1]\n  - name: web\n    machines: "
      "[web1]\n";
  ASSERT_OK_AND_ASSIGN(Plan plan, ParsePlan(yaml, "app.yaml"));
  ASSERT_OK_AND_ASSIGN(JobSpec spec, BuildPlanJob(plan, Operation::kDrill));
  ASSERT_OK_AND_ASSIGN(Job job, RunJob(spec));
  ASSERT_EQ(job.state, JobState::kDone) << job.error;
  ASSERT_OK_AND_ASSIGN(std::vector<Instance> instances, catalog_->ListInstances(0, "drill"));
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0].machine_id, catalog_->GetMachineByName("db1")->id);
  ASSERT_OK_AND_ASSIGN(Job cleanup, RunJob(DrillCleanupJob(plan.Machines(), "")));
  EXPECT_EQ(cleanup.state, JobState::kDone) << cleanup.error;
}

}  // namespace
}  // namespace lifeline::control
