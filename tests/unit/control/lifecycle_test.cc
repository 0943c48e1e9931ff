#include "control/lifecycle.h"

#include <set>

#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::TempDir;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    lifecycle_ = std::make_unique<Lifecycle>(catalog_.get());
  }
  // A machine put directly into `state` (the catalog does not judge transitions).
  std::string MachineIn(MachineState state, DrillState drill = DrillState::kNone) {
    std::string name = "m" + std::to_string(next_++);
    Machine m;
    m.name = name;
    m.state = std::string(StateName(state));
    m.drill_state = std::string(DrillStateName(drill));
    EXPECT_TRUE(catalog_->AddMachine(m).ok());
    return name;
  }
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Lifecycle> lifecycle_;
  int next_ = 0;
};

TEST_F(LifecycleTest, EveryAllowedTransition) {
  for (const Transition& t : MachineTransitions()) {
    std::string name = MachineIn(t.from);
    uint64_t before = lifecycle_->TransitionCount(t.from, t.to);
    auto next = lifecycle_->SetState(name, t.event, "test");
    ASSERT_TRUE(next.ok()) << StateName(t.from) << " + " << EventName(t.event) << ": "
                           << next.status().ToString();
    EXPECT_EQ(*next, t.to);
    auto m = catalog_->GetMachineByName(name);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->state, StateName(t.to));
    EXPECT_EQ(lifecycle_->TransitionCount(t.from, t.to), before + 1);
    auto audit = catalog_->ListAudit("machine/" + name);
    ASSERT_TRUE(audit.ok());
    ASSERT_EQ(audit->size(), 1u);
    EXPECT_EQ((*audit)[0].action, "machine.state");
    EXPECT_NE((*audit)[0].detail.find(std::string(EventName(t.event))), std::string::npos);
  }
}

TEST_F(LifecycleTest, EveryPairOutsideTheTableIsRefused) {
  std::set<std::pair<int, int>> allowed;
  for (const Transition& t : MachineTransitions())
    allowed.insert({static_cast<int>(t.from), static_cast<int>(t.event)});
  int refused = 0;
  for (int s = 0; s < kMachineStateCount; ++s) {
    for (int e = 0; e < kMachineEventCount; ++e) {
      auto next = NextState("web1", static_cast<MachineState>(s), static_cast<MachineEvent>(e));
      if (allowed.count({s, e})) {
        EXPECT_TRUE(next.ok());
        continue;
      }
      ASSERT_FALSE(next.ok());
      EXPECT_EQ(next.status().code(), Code::kFailedPrecondition);
      // The message names the current state.
      EXPECT_NE(next.status().message().find("is " +
                                             std::string(StateName(static_cast<MachineState>(s)))),
                std::string::npos)
          << next.status().message();
      ++refused;
    }
  }
  EXPECT_EQ(refused, kMachineStateCount * kMachineEventCount -
                         static_cast<int>(MachineTransitions().size()));
}

TEST_F(LifecycleTest, RefusalsSayWhatToDo) {
  std::string m = MachineIn(MachineState::kFailedOver);
  auto r = lifecycle_->SetState(m, MachineEvent::kReprotectStart, "test");
  ASSERT_FALSE(r.ok());
  const std::string& msg = r.status().message();
  EXPECT_NE(msg.find("is failed-over"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs committed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lifeline failover commit " + m), std::string::npos) << msg;
  EXPECT_EQ(lifecycle_->RefusedCount(), 1u);
  auto still = catalog_->GetMachineByName(m);
  EXPECT_EQ(still->state, "failed-over");
  auto audit = catalog_->ListAudit("machine/" + m);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "machine.refused");

  std::string busy = MachineIn(MachineState::kInitialReplication);
  r = lifecycle_->SetState(busy, MachineEvent::kFailoverStart, "test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("wait for its running job"), std::string::npos)
      << r.status().message();

  std::string prot = MachineIn(MachineState::kProtected);
  r = lifecycle_->SetState(prot, MachineEvent::kCommit, "test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lifeline failover start " + prot), std::string::npos)
      << r.status().message();
}

TEST_F(LifecycleTest, FullCycleReversesDirectionAndBack) {
  std::string m = MachineIn(MachineState::kEnabling);
  const MachineEvent cycle[] = {MachineEvent::kStartInitialReplication,
                                MachineEvent::kInitialReplicationDone,
                                MachineEvent::kFailoverStart,
                                MachineEvent::kFailoverDone,
                                MachineEvent::kCommit,
                                MachineEvent::kReprotectStart,
                                MachineEvent::kReprotectDone};
  for (MachineEvent e : cycle) ASSERT_TRUE(lifecycle_->SetState(m, e, "test").ok()) << EventName(e);
  auto got = catalog_->GetMachineByName(m);
  EXPECT_EQ(got->state, "protected");
  EXPECT_EQ(got->direction, "reverse");
  // Failback: the same events again bring replication back to its first direction.
  for (size_t i = 2; i < std::size(cycle); ++i)
    ASSERT_TRUE(lifecycle_->SetState(m, cycle[i], "test").ok());
  got = catalog_->GetMachineByName(m);
  EXPECT_EQ(got->direction, "forward");
  EXPECT_EQ(lifecycle_->TransitionCount(MachineState::kReprotecting, MachineState::kProtected), 2u);
}

TEST_F(LifecycleTest, DrillBesideTheLifecycle) {
  std::string m = MachineIn(MachineState::kProtected);
  ASSERT_EQ(*lifecycle_->SetDrillState(m, DrillEvent::kDrillStart, "t"), DrillState::kDrillRunning);
  // A second drill, or a failover, while one runs is refused with the way out.
  auto again = lifecycle_->SetDrillState(m, DrillEvent::kDrillStart, "t");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("drill-running"), std::string::npos);
  auto fo = lifecycle_->SetState(m, MachineEvent::kFailoverStart, "t");
  ASSERT_FALSE(fo.ok());
  EXPECT_NE(fo.status().message().find("lifeline drill cleanup " + m), std::string::npos)
      << fo.status().message();
  ASSERT_EQ(*lifecycle_->SetDrillState(m, DrillEvent::kDrillStop, "t"),
            DrillState::kDrillDoneCleanupPending);
  // The machine itself stayed protected through the drill.
  EXPECT_EQ(catalog_->GetMachineByName(m)->state, "protected");
  ASSERT_EQ(*lifecycle_->SetDrillState(m, DrillEvent::kDrillCleanupDone, "t"), DrillState::kNone);
  EXPECT_EQ(lifecycle_->DrillTransitionCount(DrillState::kNone, DrillState::kDrillRunning), 1u);
}

TEST(Health, FromPolicyThresholds) {
  Policy p;
  p.rpo_warning_seconds = 600;
  p.rpo_critical_seconds = 1800;
  EXPECT_EQ(HealthFor(p, 5), Health::kHealthy);
  EXPECT_EQ(HealthFor(p, 599), Health::kHealthy);
  EXPECT_EQ(HealthFor(p, 600), Health::kWarning);
  EXPECT_EQ(HealthFor(p, 1800), Health::kCritical);
  EXPECT_EQ(HealthName(HealthFor(p, 4000)), "Critical");
}

TEST_F(LifecycleTest, DrillRefusals) {
  std::string initial = MachineIn(MachineState::kInitialReplication);
  auto r = lifecycle_->SetDrillState(initial, DrillEvent::kDrillStart, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no recovery point yet"), std::string::npos);
  std::string failed_over = MachineIn(MachineState::kFailedOver);
  EXPECT_FALSE(lifecycle_->SetDrillState(failed_over, DrillEvent::kDrillStart, "t").ok());
  std::string idle = MachineIn(MachineState::kProtected);
  r = lifecycle_->SetDrillState(idle, DrillEvent::kDrillCleanupDone, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lifeline drill start " + idle), std::string::npos);
  for (const DrillTransition& t : DrillTransitions()) {
    EXPECT_TRUE(NextDrillState("x", t.from, t.event, MachineState::kProtected).ok());
  }
  EXPECT_EQ(lifecycle_->SetState("ghost", MachineEvent::kCommit, "t").status().code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace lifeline::control
