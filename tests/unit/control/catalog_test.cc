#include "control/catalog.h"

#include <sqlite3.h>

#include <thread>

#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::TempDir;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
  }
  Machine MakeMachine(const std::string& name) {
    Machine m;
    m.name = name;
    m.nics = {{0, "lan", "10.0.0.5", "52:54:00:00:00:01"}, {1, "dmz", "", ""}};
    return m;
  }
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, FreshCatalogHasCurrentSchemaAndWal) {
  auto v = catalog_->SchemaVersion();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, Catalog::kSchemaVersion);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("catalog.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(CatalogTest, MigratesAVersion1Catalog) {
  // A catalog written by a lifeline with schema 1 (before the instances table).
  catalog_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("catalog.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE instances; DELETE FROM schema_version WHERE version>=2;"
                         "DROP TABLE network_mappings; DROP TABLE static_ips;"
                         "ALTER TABLE machines DROP COLUMN capture_mode;"
                         "ALTER TABLE machines DROP COLUMN capture_config;"
                         "ALTER TABLE consistency_groups DROP COLUMN point_interval_seconds;"
                         "INSERT INTO sites(name, role, address) VALUES('old','primary','')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*(*c)->SchemaVersion(), Catalog::kSchemaVersion);
  EXPECT_TRUE((*c)->GetSite("old").ok());        // data kept
  EXPECT_TRUE((*c)->ListInstances(0)->empty());  // new table there
  EXPECT_TRUE((*c)->ListNetworkMappings()->empty());
  EXPECT_TRUE((*c)->ListStaticIps()->empty());
}

TEST_F(CatalogTest, RefusesNewerSchema) {
  catalog_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("catalog.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES(99)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("upgrade lifeline"), std::string::npos);
}

TEST_F(CatalogTest, NotADatabaseIsAnError) {
  testing::WriteFile(dir_.File("junk.db"), std::string(8192, 'x'));
  auto c = Catalog::Open(dir_.File("junk.db"), &clock_);
  ASSERT_FALSE(c.ok());
}

TEST_F(CatalogTest, MachinesWithNicsSurviveReopen) {
  ASSERT_OK_AND_ASSIGN(int64_t site, catalog_->AddSite({0, "dr", "recovery", "10.9.0.1:7000"}));
  Policy p;
  p.name = "gold";
  p.streams = 8;
  p.compression = "zstd";
  ASSERT_OK_AND_ASSIGN(int64_t policy, catalog_->AddPolicy(p));
  Machine m = MakeMachine("web1");
  m.site_id = site;
  m.policy_id = policy;
  ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->AddMachine(m));
  catalog_.reset();
  auto reopened = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_TRUE(reopened.ok());
  ASSERT_OK_AND_ASSIGN(Machine got, (*reopened)->GetMachineByName("web1"));
  EXPECT_EQ(got.id, id);
  EXPECT_EQ(got.state, "enabling");
  EXPECT_EQ(got.policy_id, policy);
  EXPECT_EQ(got.site_id, site);
  ASSERT_EQ(got.nics.size(), 2u);
  EXPECT_EQ(got.nics[0].ip, "10.0.0.5");
  EXPECT_EQ(got.nics[1].network, "dmz");
  ASSERT_OK_AND_ASSIGN(Policy gp, (*reopened)->GetPolicy(policy));
  EXPECT_EQ(gp.streams, 8);
  EXPECT_EQ(gp.compression, "zstd");
}

NetworkMapping Mapping(const std::string& source, const std::string& recovery,
                       const std::string& drill) {
  NetworkMapping m;
  m.source = source;
  m.recovery = {source + "-dr", *Cidr::Parse(recovery), std::nullopt, {}};
  m.drill = {source + "-drill", *Cidr::Parse(drill), std::nullopt, {}};
  return m;
}

TEST_F(CatalogTest, NetworkMappingsAndStaticAddressesSurviveReopen) {
  NetworkMapping lan = Mapping("lan", "10.50.1.0/24", "10.60.1.0/24");
  lan.recovery.gateway = *IpAddress::Parse("10.50.1.1");
  lan.recovery.reserved = {*IpAddress::Parse("10.50.1.2"), *IpAddress::Parse("10.50.1.3")};
  ASSERT_OK(catalog_->PutNetworkMapping(lan));
  ASSERT_OK(catalog_->PutNetworkMapping(Mapping("v6", "fd00:50::/64", "fd00:60::/64")));
  ASSERT_TRUE(catalog_->AddMachine(MakeMachine("web1")).ok());
  ASSERT_OK(catalog_->PutStaticIp({"web1", 0, NetworkMode::kDrill, *IpAddress::Parse("10.60.1.9")}));
  catalog_.reset();
  auto reopened = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_TRUE(reopened.ok());
  Catalog& c = **reopened;
  ASSERT_OK_AND_ASSIGN(std::vector<NetworkMapping> all, c.ListNetworkMappings());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source, "lan");
  EXPECT_EQ(all[0].recovery.subnet.ToString(), "10.50.1.0/24");
  ASSERT_TRUE(all[0].recovery.gateway.has_value());
  EXPECT_EQ(all[0].recovery.gateway->ToString(), "10.50.1.1");
  EXPECT_EQ(all[0].recovery.reserved.size(), 2u);
  EXPECT_FALSE(all[0].drill.gateway.has_value());
  EXPECT_EQ(all[1].drill.subnet.ToString(), "fd00:60::/64");
  ASSERT_OK_AND_ASSIGN(std::vector<StaticIpRule> rules, c.ListStaticIps("web1"));
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].ip.ToString(), "10.60.1.9");
  EXPECT_EQ(rules[0].mode, NetworkMode::kDrill);
  // The loaded map assigns with them: web1's NIC 0 (10.0.0.5) is outside the drill subnet.
  ASSERT_OK_AND_ASSIGN(NetworkMap map, c.LoadNetworkMap());
  ASSERT_OK_AND_ASSIGN(auto a, map.Assign(NetworkMode::kDrill,
                                          {{"web1", 0, "lan", *IpAddress::Parse("10.0.0.5")}}, {}));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ip.ToString(), "10.60.1.9");
  EXPECT_EQ(a[0].reason, "static rule");
  // Replace, then remove.
  ASSERT_OK(c.PutNetworkMapping(Mapping("lan", "10.70.0.0/16", "10.80.0.0/16")));
  EXPECT_EQ(c.ListNetworkMappings()->at(0).recovery.subnet.ToString(), "10.70.0.0/16");
  ASSERT_OK(c.DeleteNetworkMapping("lan"));
  EXPECT_EQ(c.DeleteNetworkMapping("lan").code(), Code::kNotFound);
  ASSERT_OK(c.DeleteStaticIp("web1", 0, NetworkMode::kDrill));
  EXPECT_EQ(c.DeleteStaticIp("web1", 0, NetworkMode::kDrill).code(), Code::kNotFound);
  // A machine's static addresses go with it.
  ASSERT_OK(c.PutStaticIp({"web1", 1, NetworkMode::kRecovery, *IpAddress::Parse("10.1.1.1")}));
  ASSERT_OK(c.DeleteMachine(c.GetMachineByName("web1")->id));
  EXPECT_TRUE(c.ListStaticIps()->empty());
}

TEST_F(CatalogTest, BadNetworkMappingsAndStaticAddressesAreRefused) {
  NetworkMapping gw = Mapping("lan", "10.50.1.0/24", "10.60.1.0/24");
  gw.drill.gateway = *IpAddress::Parse("10.50.1.1");  // outside the drill subnet
  Status s = catalog_->PutNetworkMapping(gw);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("gateway 10.50.1.1 is outside 10.60.1.0/24"), std::string::npos) << s.ToString();
  NetworkMapping reserved = Mapping("lan", "10.50.1.0/24", "10.60.1.0/24");
  reserved.recovery.reserved = {*IpAddress::Parse("192.168.0.1")};
  EXPECT_EQ(catalog_->PutNetworkMapping(reserved).code(), Code::kInvalidArgument);
  EXPECT_EQ(catalog_->PutNetworkMapping(Mapping("bad name", "10.0.0.0/8", "10.0.0.0/8")).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(catalog_->ListNetworkMappings()->empty());

  // Static addresses: an unknown machine, a NIC index out of range, and an address outside
  // the target subnet of that NIC's network.
  ASSERT_OK(catalog_->PutNetworkMapping(Mapping("lan", "10.50.1.0/24", "10.60.1.0/24")));
  EXPECT_EQ(catalog_->PutStaticIp({"ghost", 0, NetworkMode::kRecovery, *IpAddress::Parse("10.50.1.9")})
                .code(),
            Code::kNotFound);
  ASSERT_TRUE(catalog_->AddMachine(MakeMachine("web1")).ok());
  EXPECT_EQ(catalog_->PutStaticIp({"web1", 16, NetworkMode::kRecovery, *IpAddress::Parse("10.50.1.9")})
                .code(),
            Code::kInvalidArgument);
  s = catalog_->PutStaticIp({"web1", 0, NetworkMode::kRecovery, *IpAddress::Parse("10.60.1.9")});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("outside the recovery network lan-dr (10.50.1.0/24)"),
            std::string::npos)
      << s.ToString();
  EXPECT_TRUE(catalog_->ListStaticIps()->empty());

  // NICs: bad addresses, MACs and indexes are refused with the NIC named.
  Machine m = MakeMachine("web2");
  m.nics[0].ip = "10.0.0.300";
  s = catalog_->AddMachine(m).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("web2 NIC 0"), std::string::npos) << s.ToString();
  m = MakeMachine("web2");
  m.nics[1].mac = "52:54:00:zz:00:01";
  EXPECT_EQ(catalog_->AddMachine(m).status().code(), Code::kInvalidArgument);
  m = MakeMachine("web2");
  m.nics[1].index = 16;
  EXPECT_EQ(catalog_->AddMachine(m).status().code(), Code::kInvalidArgument);
}

TEST_F(CatalogTest, DuplicatesAndMissingReferencesAreRefused) {
  ASSERT_TRUE(catalog_->AddMachine(MakeMachine("db1")).ok());
  auto dup = catalog_->AddMachine(MakeMachine("db1"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kFailedPrecondition);
  Machine bad = MakeMachine("db2");
  bad.policy_id = 4242;  // no such policy: foreign keys are on
  EXPECT_FALSE(catalog_->AddMachine(bad).ok());
  EXPECT_EQ(catalog_->GetMachineByName("nope").status().code(), Code::kNotFound);
  Machine badname = MakeMachine("web 1");
  EXPECT_EQ(catalog_->AddMachine(badname).status().code(), Code::kInvalidArgument);
}

TEST_F(CatalogTest, ConsistencyGroupHoldsAtMost16Machines) {
  ASSERT_OK_AND_ASSIGN(int64_t gid, catalog_->AddGroup("erp"));
  for (int i = 0; i < kMaxMachinesPerGroup; ++i) {
    Machine m = MakeMachine("erp" + std::to_string(i));
    m.group_id = gid;
    ASSERT_TRUE(catalog_->AddMachine(m).ok()) << i;
  }
  Machine extra = MakeMachine("erp-extra");
  extra.group_id = gid;
  auto r = catalog_->AddMachine(extra);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("consistency group erp already holds 16 machines"),
            std::string::npos)
      << r.status().message();
  // Moving a machine into the full group is refused too; updating a member is fine.
  extra.group_id = 0;
  ASSERT_OK_AND_ASSIGN(int64_t extra_id, catalog_->AddMachine(extra));
  extra.id = extra_id;
  extra.group_id = gid;
  EXPECT_EQ(catalog_->UpdateMachineConfig(extra).code(), Code::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(Machine member, catalog_->GetMachineByName("erp0"));
  member.cpus = 4;
  EXPECT_TRUE(catalog_->UpdateMachineConfig(member).ok());
}

TEST_F(CatalogTest, TwoConnectionsWriteTheSameCatalog) {
  // The vault and a CLI process hold the catalog at once; WAL and the busy timeout keep
  // every write.
  auto other = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_TRUE(other.ok());
  Job job;
  job.kind = "k";
  std::vector<JobStep> steps(1);
  steps[0].name = "a";
  ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->CreateJob(job, steps));
  constexpr int kLines = 300;
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i) (void)(*other)->AppendLog(id, 0, "info", "b");
  });
  for (int i = 0; i < kLines; ++i) ASSERT_OK(catalog_->AppendLog(id, 0, "info", "a"));
  writer.join();
  ASSERT_OK_AND_ASSIGN(std::vector<JobLogLine> log, catalog_->GetLog(id, 0, 10000));
  EXPECT_EQ(log.size(), 2u * kLines);
  // Reopening applies no migration twice.
  catalog_.reset();
  other->reset();
  auto again = Catalog::Open(dir_.File("catalog.db"), &clock_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->SchemaVersion(), Catalog::kSchemaVersion);
}

TEST_F(CatalogTest, PolicyValidation) {
  Policy p;
  p.name = "p";
  p.streams = 33;
  auto r = catalog_->AddPolicy(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("streams must be 1..32"), std::string::npos);
  p.streams = 0;
  EXPECT_FALSE(catalog_->AddPolicy(p).ok());
  p.streams = 4;
  p.rpo_warning_seconds = 600;
  p.rpo_critical_seconds = 300;
  EXPECT_FALSE(catalog_->AddPolicy(p).ok());
  p.rpo_critical_seconds = 900;
  p.compression = "gzip";
  EXPECT_FALSE(catalog_->AddPolicy(p).ok());
  p.compression = "lz4";
  p.app_point_interval_seconds = 30;  // too often
  EXPECT_FALSE(catalog_->AddPolicy(p).ok());
  p.app_point_interval_seconds = 3600;
  EXPECT_TRUE(catalog_->AddPolicy(p).ok());
}

TEST_F(CatalogTest, StateCompareAndSet) {
  ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->AddMachine(MakeMachine("m")));
  ASSERT_OK(catalog_->SetMachineState(id, "enabling", "initial-replication", "forward"));
  Status stale = catalog_->SetMachineState(id, "enabling", "protected", "forward");
  EXPECT_EQ(stale.code(), Code::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(Machine m, catalog_->GetMachine(id));
  EXPECT_EQ(m.state, "initial-replication");
}

TEST_F(CatalogTest, DisksPointsTagsAndRetention) {
  ASSERT_OK_AND_ASSIGN(int64_t mid, catalog_->AddMachine(MakeMachine("m")));
  ASSERT_OK_AND_ASSIGN(int64_t gid, catalog_->AddGroup("app"));
  ASSERT_OK_AND_ASSIGN(int64_t did, catalog_->AddDisk({0, mid, "/dev/vda", 1ull << 30, "d-1"}));
  for (uint64_t seq = 10; seq <= 50; seq += 10) {
    Point p;
    p.disk_id = did;
    p.seq = seq;
    p.time_unix_nanos = static_cast<int64_t>(seq);
    p.group_id = gid;
    p.group_point = "gp-" + std::to_string(seq);
    if (seq == 30) p.tags = {"app", "before-upgrade"};
    ASSERT_TRUE(catalog_->AddPoint(p).ok());
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Point> points, catalog_->ListPoints(did));
  ASSERT_EQ(points.size(), 5u);
  EXPECT_EQ(points[0].seq, 50u);  // newest first
  ASSERT_OK(catalog_->AddPointTag(points[2].id, "tested-at=2026-11-23T07:00:00Z"));
  ASSERT_OK_AND_ASSIGN(Point tagged, catalog_->GetPoint(points[2].id));
  EXPECT_EQ(tagged.seq, 30u);
  EXPECT_EQ(tagged.tags.size(), 3u);
  EXPECT_EQ(tagged.group_point, "gp-30");
  ASSERT_OK_AND_ASSIGN(int removed, catalog_->DeletePointsBefore(did, 30));
  EXPECT_EQ(removed, 2);
  ASSERT_OK_AND_ASSIGN(points, catalog_->ListPoints(did));
  EXPECT_EQ(points.size(), 3u);
  Point bad;
  bad.disk_id = did;
  bad.kind = "fuzzy";
  EXPECT_EQ(catalog_->AddPoint(bad).status().code(), Code::kInvalidArgument);
  // Deleting the machine takes its disks and points with it.
  ASSERT_OK(catalog_->DeleteMachine(mid));
  EXPECT_EQ(catalog_->GetPoint(tagged.id).status().code(), Code::kNotFound);
}

TEST_F(CatalogTest, JobsStepsLogsAndSignals) {
  Job job;
  job.kind = "drill";
  job.target = "web1";
  std::vector<JobStep> steps(3);
  steps[0].name = "a";
  steps[1].name = "b";
  steps[2].name = "c";
  ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->CreateJob(job, steps));
  ASSERT_OK_AND_ASSIGN(Job got, catalog_->GetJob(id));
  EXPECT_EQ(got.state, JobState::kPending);
  ASSERT_EQ(got.steps.size(), 3u);
  got.steps[0].state = StepState::kDone;
  ASSERT_OK(catalog_->UpdateStep(got.steps[0]));
  ASSERT_OK(catalog_->SetStepProgress(id, 1, 50));
  got.steps[1].state = StepState::kRunning;
  got.steps[1].progress_percent = 50;
  ASSERT_OK(catalog_->UpdateStep(got.steps[1]));
  ASSERT_OK_AND_ASSIGN(got, catalog_->GetJob(id));
  EXPECT_EQ(got.ProgressPercent(), 50);  // (100 + 50 + 0) / 3
  ASSERT_OK(catalog_->SetJobState(id, JobState::kRunning));
  JobFilter f;
  f.state = JobState::kRunning;
  ASSERT_OK_AND_ASSIGN(std::vector<Job> running, catalog_->ListJobs(f));
  ASSERT_EQ(running.size(), 1u);
  f.state = JobState::kDone;
  ASSERT_OK_AND_ASSIGN(std::vector<Job> done, catalog_->ListJobs(f));
  EXPECT_TRUE(done.empty());

  ASSERT_OK(catalog_->AppendLog(id, 0, "info", "hello"));
  ASSERT_OK_AND_ASSIGN(std::vector<JobLogLine> log, catalog_->GetLog(id));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].text, "hello");

  ASSERT_OK_AND_ASSIGN(bool none, catalog_->TakeSignal(id, 1, "continue"));
  EXPECT_FALSE(none);
  ASSERT_OK(catalog_->PostSignal(id, 1, "continue"));
  ASSERT_OK_AND_ASSIGN(bool one, catalog_->TakeSignal(id, 1, "continue"));
  EXPECT_TRUE(one);
  ASSERT_OK_AND_ASSIGN(bool gone, catalog_->TakeSignal(id, 1, "continue"));
  EXPECT_FALSE(gone);

  ASSERT_OK(catalog_->RequestCancel(id));
  ASSERT_OK_AND_ASSIGN(bool cancel, catalog_->CancelRequested(id));
  EXPECT_TRUE(cancel);
  ASSERT_OK(catalog_->SetJobState(id, JobState::kCancelled, "by test"));
  EXPECT_EQ(catalog_->RequestCancel(id).code(), Code::kFailedPrecondition);
  EXPECT_EQ(catalog_->GetJob(9999).status().code(), Code::kNotFound);
}

TEST_F(CatalogTest, JobLogIsBounded) {
  Job job;
  job.kind = "k";
  std::vector<JobStep> steps(1);
  steps[0].name = "a";
  ASSERT_OK_AND_ASSIGN(int64_t id, catalog_->CreateJob(job, steps));
  for (int i = 0; i < kMaxLogLinesPerJob + 20; ++i) {
    ASSERT_OK(catalog_->AppendLog(id, 0, "info", "line " + std::to_string(i)));
  }
  // Read in pages, as `lifeline job log` does.
  std::vector<JobLogLine> log;
  int64_t after = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(std::vector<JobLogLine> page, catalog_->GetLog(id, after, 4000));
    if (page.empty()) break;
    after = page.back().id;
    log.insert(log.end(), page.begin(), page.end());
  }
  ASSERT_EQ(log.size(), static_cast<size_t>(kMaxLogLinesPerJob + 1));
  EXPECT_EQ(log[kMaxLogLinesPerJob - 1].text, "line " + std::to_string(kMaxLogLinesPerJob - 1));
  EXPECT_NE(log.back().text.find("log limit"), std::string::npos);
  EXPECT_EQ(catalog_->AppendLog(id, 0, "info", std::string(100000, 'x')).code(), Code::kOk);
}

TEST_F(CatalogTest, JobNeedsStepsWithinBounds) {
  Job job;
  job.kind = "k";
  EXPECT_EQ(catalog_->CreateJob(job, {}).status().code(), Code::kInvalidArgument);
  std::vector<JobStep> many(kMaxStepsPerJob + 1);
  for (auto& s : many) s.name = "x";
  EXPECT_EQ(catalog_->CreateJob(job, many).status().code(), Code::kInvalidArgument);
}

TEST_F(CatalogTest, PlansAndAudit) {
  ASSERT_OK(catalog_->PutPlan({0, "web", "name: web\n", "{}", 0}));
  ASSERT_OK(catalog_->PutPlan({0, "web", "name: web\ndescription: v2\n", "{}", 0}));
  ASSERT_OK_AND_ASSIGN(PlanRecord p, catalog_->GetPlan("web"));
  EXPECT_NE(p.yaml.find("v2"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::vector<PlanRecord> plans, catalog_->ListPlans());
  EXPECT_EQ(plans.size(), 1u);
  ASSERT_OK(catalog_->DeletePlan("web"));
  EXPECT_EQ(catalog_->GetPlan("web").status().code(), Code::kNotFound);

  ASSERT_OK(catalog_->Audit("alice", "machine.state", "machine/web1", "a -> b"));
  ASSERT_OK(catalog_->Audit("bob", "job.cancel", "job/7", ""));
  ASSERT_OK_AND_ASSIGN(std::vector<AuditEntry> entries, catalog_->ListAudit("machine/"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].actor, "alice");
}

}  // namespace
}  // namespace lifeline::control
