// `machine delete`: Vault::DeleteMachine refuses a machine in a drill or a failover (naming
// the state and what to do) unless forced, waits for nothing but a running job, removes the
// catalog rows, the agent's assignment and the replicas (or keeps them), and the name can be
// protected again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "control/catalog.h"
#include "store/replica_store.h"
#include "vault/vault.h"

namespace lifeline::vault {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class MachineDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("ll-mdel-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    ASSERT_TRUE(Vault::Init(dir_, {}).ok());
    auto v = Vault::Open({.dir = dir_});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    vault_ = std::move(*v);
    control::Site site;
    site.name = "host1";
    site.role = "primary";
    ASSERT_TRUE(vault_->catalog()->AddSite(site).ok());
  }
  void TearDown() override {
    vault_.reset();
    fs::remove_all(dir_);
  }
  Status Protect(const std::string& name) {
    return vault_
        ->Protect({{"name", name},
                   {"agent", "host1"},
                   {"disks", {{{"path", "/dev/vda"}, {"size_bytes", uint64_t{1} << 20}}}}})
        .status();
  }
  void SetState(const std::string& name, const std::string& state) {
    auto m = vault_->catalog()->GetMachineByName(name);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(vault_->catalog()->SetMachineState(m->id, m->state, state, m->direction).ok());
  }
  bool ReplicaDirExists(const std::string& disk_id) {
    return fs::exists(dir_ + "/store/disks/" + disk_id);
  }

  std::string dir_;
  std::unique_ptr<Vault> vault_;
};

TEST_F(MachineDeleteTest, RefusesAFailoverUnlessForcedAndTheNameCanBeProtectedAgain) {
  ASSERT_TRUE(Protect("web1").ok());
  SetState("web1", "failed-over");
  ASSERT_TRUE(vault_->store()->Disk("web1-disk0").ok());
  ASSERT_EQ(vault_->Assignments("host1")->size(), 0u);  // failed over: not assigned
  auto refused = vault_->DeleteMachine("web1", json::object(), nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("web1 is failed-over"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("lifeline failover cancel web1"), std::string::npos);
  EXPECT_NE(refused.status().message().find("--force"), std::string::npos);
  EXPECT_TRUE(vault_->catalog()->GetMachineByName("web1").ok());
  // Forced: the recovery is released first, then everything goes.
  int released = 0;
  auto forced = vault_->DeleteMachine("web1", {{"force", true}}, [&](const control::Machine& m) {
    ++released;
    EXPECT_EQ(m.name, "web1");
    return Result<std::vector<std::string>>(
        std::vector<std::string>{"stopped the failover copy (pid 1)"});
  });
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ(released, 1);
  EXPECT_TRUE((*forced)["forced"].get<bool>());
  EXPECT_EQ((*forced)["disks"][0]["replica"], "removed");
  EXPECT_EQ(vault_->catalog()->GetMachineByName("web1").status().code(), Code::kNotFound);
  EXPECT_FALSE(ReplicaDirExists("web1-disk0"));
  EXPECT_EQ(vault_->store()->Disk("web1-disk0").status().code(), Code::kNotFound);
  // The same name again: a new, empty replica.
  ASSERT_TRUE(Protect("web1").ok());
  auto replica = vault_->store()->Disk("web1-disk0");
  ASSERT_TRUE(replica.ok());
  EXPECT_EQ((*replica)->durable_seq(), 0u);
  EXPECT_EQ(vault_->Assignments("host1")->size(), 1u);
}

TEST_F(MachineDeleteTest, DrillsAndJobsAreRefusedAndKeepReplicaKeepsTheFiles) {
  ASSERT_TRUE(Protect("web2").ok());
  SetState("web2", "protected");
  auto m = vault_->catalog()->GetMachineByName("web2");
  ASSERT_TRUE(vault_->catalog()->SetDrillState(m->id, "none", "drill-running").ok());
  auto drill = vault_->DeleteMachine("web2", json::object(), nullptr);
  EXPECT_EQ(drill.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(drill.status().message().find("lifeline drill cleanup web2"), std::string::npos)
      << drill.status().ToString();
  ASSERT_TRUE(vault_->catalog()->SetDrillState(m->id, "drill-running", "none").ok());
  // A job still working on the machine: Busy, even with --force.
  control::Job job;
  job.kind = "failover";
  job.target = "web2";
  control::JobStep step;
  step.name = "failover.recover";
  step.title = "start the machine";
  auto job_id = vault_->catalog()->CreateJob(job, {step});
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  auto busy = vault_->DeleteMachine("web2", {{"force", true}}, nullptr);
  EXPECT_EQ(busy.status().code(), Code::kBusy);
  EXPECT_NE(busy.status().message().find("lifeline job cancel " + std::to_string(*job_id)),
            std::string::npos)
      << busy.status().ToString();
  ASSERT_TRUE(vault_->catalog()->SetJobState(*job_id, control::JobState::kDone).ok());
  // Bad input is refused, never half done.
  EXPECT_EQ(vault_->DeleteMachine("web2", {{"force", "yes"}}, nullptr).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(vault_->DeleteMachine("web2", {{"keep-replica", true}}, nullptr).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(vault_->DeleteMachine("nosuch", json::object(), nullptr).status().code(),
            Code::kNotFound);
  EXPECT_TRUE(vault_->catalog()->GetMachineByName("web2").ok());
  // Kept replica: the files stay and a new protect of the name starts from them.
  auto kept = vault_->DeleteMachine("web2", {{"keep_replica", true}}, nullptr);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ((*kept)["disks"][0]["replica"], "kept");
  EXPECT_TRUE(ReplicaDirExists("web2-disk0"));
  EXPECT_EQ(vault_->Assignments("host1")->size(), 0u);
  ASSERT_TRUE(Protect("web2").ok());
  EXPECT_TRUE(vault_->store()->Disk("web2-disk0").ok());
}

}  // namespace
}  // namespace lifeline::vault
