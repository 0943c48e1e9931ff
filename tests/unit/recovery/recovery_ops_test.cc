// Recovery operations end to end in one process: drills on a replica (export, writes through
// the overlay with qemu-io, cleanup, replica unchanged, point tagged), unplanned failover to
// a chosen point, change-point, commit dropping the other points, planned failover with a
// drain (zero data loss), and the lifecycle refusals.
#include "vault/recovery_ops.h"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/units.h"
#include "control/plan.h"
#include "recovery_test_util.h"

namespace lifeline::vault {
namespace {

using namespace recovery_testing;
using nlohmann::json;

constexpr uint64_t kDiskBytes = 2 << 20;
constexpr int64_t kT0 = 1763884800LL * 1000000000LL;
constexpr int64_t kSecond = 1000000000LL;

bool Alive(int64_t pid) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  return stat.find(") Z ") == std::string::npos;
}

class RecoveryOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("recops");
    auto c = control::Catalog::Open(dir_ + "/catalog.db");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    auto s = store::ReplicaStore::Open(dir_ + "/store");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    control::Machine m;
    m.name = "web1";
    m.state = "protected";
    m.launcher = "command";
    m.launcher_config = json{{"command", "exec sleep 60"}}.dump();
    auto id = catalog_->AddMachine(m);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(catalog_->AddDisk({0, *id, "/dev/vda", kDiskBytes, "web1-disk0"}).ok());
    auto d = store_->CreateDisk("web1-disk0", kDiskBytes);
    ASSERT_TRUE(d.ok());
    disk_ = *d;
    // Three points: 'a' at 0 (p1, seq 1), 'b' at 0 (p2, seq 2), 'c' at 64K (p3, seq 3).
    const char fills[] = {'a', 'b', 'c'};
    for (int i = 0; i < 3; ++i) {
      RT_ASSERT_OK(WriteFill(disk_, i == 2 ? 65536 : 0, fills[i], 65536, kT0 + (i + 1) * kSecond));
      store::PointRequest p;
      p.seq = uint64_t(i + 1);
      auto pt = disk_->AddPoint(p);
      ASSERT_TRUE(pt.ok());
      points_.push_back(pt->id);
    }
    RecoveryOptions o;
    o.dir = dir_;
    o.stop_grace_ms = 1000;
    o.drain_quiet_ms = 300;
    o.drain_timeout_ms = 10000;
    auto ops = RecoveryOps::Create(store_.get(), catalog_.get(), o);
    ASSERT_TRUE(ops.ok()) << ops.status().ToString();
    ops_ = std::move(*ops);
  }
  void TearDown() override {
    ops_.reset();
    std::filesystem::remove_all(dir_);
  }
  control::Machine Machine() { return catalog_->GetMachineByName("web1").value(); }
  // The planned-failover drain request in web1's capture config (0: none).
  uint64_t DrainRequest() {
    json capture = json::parse(Machine().capture_config, nullptr, false);
    return capture.is_object() ? capture.value("drain_request", uint64_t{0}) : uint64_t{0};
  }
  // Replaces the operations with ones made with `o` (in this test's directory).
  void Reopen(RecoveryOptions o) {
    ops_.reset();
    o.dir = dir_;
    auto ops = RecoveryOps::Create(store_.get(), catalog_.get(), std::move(o));
    ASSERT_TRUE(ops.ok()) << ops.status().ToString();
    ops_ = std::move(*ops);
  }
  std::string ReadExport(const std::string& url) {
    std::string image = dir_ + "/read.img";
    std::string out;
    EXPECT_EQ(Shell("qemu-img convert -f raw -O raw '" + url + "' " + image, &out), 0) << out;
    return ReadAll(image);
  }

  std::string dir_;
  std::unique_ptr<control::Catalog> catalog_;
  std::unique_ptr<store::ReplicaStore> store_;
  store::DiskReplica* disk_ = nullptr;
  std::vector<uint64_t> points_;
  std::unique_ptr<RecoveryOps> ops_;
};

TEST_F(RecoveryOpsTest, DrillLeavesTheReplicaUntouchedAndTagsThePoint) {
  const std::string before_tree_data = ReadAtSeq(disk_, 3, 0, kDiskBytes);
  auto r = ops_->DrillStart("web1", {{"point", std::to_string(points_[1])}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["state"], "done");
  ASSERT_EQ((*r)["exports"].size(), 1u);
  ASSERT_EQ((*r)["instances"].size(), 1u);
  const std::string url = (*r)["exports"][0]["nbd_url"];
  const int64_t pid = (*r)["instances"][0]["pid"];
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(Machine().drill_state, "drill-running");
  EXPECT_EQ(Machine().state, "protected");  // a drill runs beside protection

  // One drill per machine.
  EXPECT_EQ(ops_->DrillStart("web1", {}).status().code(), Code::kBusy);
  // The export reads as point 2; writes go to the overlay.
  EXPECT_EQ(ReadExport(url), ReadAtSeq(disk_, 2, 0, kDiskBytes));
  std::string out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x77 0 128k' '" + url + "'", &out), 0) << out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'read -P 0x77 0 128k' '" + url + "'", &out), 0) << out;
  // Replication keeps running: a new write arrives during the drill.
  RT_ASSERT_OK(WriteFill(disk_, 4096 * 100, 'n', 4096, kT0 + 10 * kSecond));

  auto c = ops_->DrillCleanup("web1", {{"note", "boot ok"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Machine().drill_state, "none");
  for (int i = 0; i < 100 && Alive(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(ops_->exports()->List("web1").empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/recovery/overlays"));
  EXPECT_NE(Shell("qemu-io -f raw -c 'read 0 4k' '" + url + "'", &out), 0);
  // The replica: unchanged at the old seqs, the new write kept, scrub clean.
  EXPECT_EQ(ReadAtSeq(disk_, 3, 0, kDiskBytes), before_tree_data);
  EXPECT_EQ(ReadAtSeq(disk_, 4, 4096 * 100, 4096), std::string(4096, 'n'));
  auto scrub = disk_->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok());
  // The point used carries the tag.
  auto p = disk_->FindPoint(points_[1]);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->tags.size(), 1u);
  EXPECT_EQ(p->tags[0].rfind("tested at 20", 0), 0u) << p->tags[0];
  EXPECT_TRUE(disk_->FindPoint(points_[0])->tags.empty());
  ASSERT_EQ((*c)["tagged"].size(), 1u);
  // A new drill can start now.
  auto again = ops_->DrillStart("web1", {{"point", "latest"}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(ops_->DrillCleanup("web1", {}).ok());
}

TEST_F(RecoveryOpsTest, DrillOfAMissingPointFailsAndRollsBack) {
  auto r = ops_->DrillStart("web1", {{"point", "424242"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("424242"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(Machine().drill_state, "none");
  EXPECT_TRUE(ops_->exports()->List().empty());
  EXPECT_EQ(ops_->DrillStart("nosuch", {}).status().code(), Code::kNotFound);
}

TEST_F(RecoveryOpsTest, UnplannedFailoverChangePointAndCommit) {
  auto r = ops_->FailoverStart("web1", {{"point", std::to_string(points_[0])}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Machine().state, "failed-over");
  json f = (*r)["failover"];
  ASSERT_EQ(f["disks"].size(), 1u);
  EXPECT_EQ(f["disks"][0]["seq"], 1u);
  EXPECT_EQ(ReadExport(f["disks"][0]["nbd_url"]), ReadAtSeq(disk_, 1, 0, kDiskBytes));
  const int64_t pid1 = f["pid"];
  EXPECT_TRUE(Alive(pid1));
  // A drill cannot start on a failed-over machine; a second failover is refused.
  EXPECT_FALSE(ops_->DrillStart("web1", {}).ok());
  EXPECT_FALSE(ops_->FailoverStart("web1", {}).ok());
  // Commit needs a failover: not before. Change the point first.
  auto c = ops_->FailoverChangePoint("web1", {{"point", std::to_string(points_[1])}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Machine().state, "failed-over");
  f = (*c)["failover"];
  EXPECT_EQ(f["disks"][0]["point_id"], points_[1]);
  EXPECT_EQ(ReadExport(f["disks"][0]["nbd_url"]), ReadAtSeq(disk_, 2, 0, kDiskBytes));
  for (int i = 0; i < 100 && Alive(pid1); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(pid1));

  auto done = ops_->FailoverCommit("web1");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(Machine().state, "committed");
  auto pts = disk_->Points();
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].id, points_[1]);
  ASSERT_FALSE(pts[0].tags.empty());
  EXPECT_EQ(pts[0].tags[0].rfind("failover committed at", 0), 0u);
  EXPECT_EQ((*done)["failover"]["disks"][0]["points_dropped"], 2u);
  // After commit the point cannot change.
  EXPECT_FALSE(ops_->FailoverChangePoint("web1", {{"point", std::to_string(points_[1])}}).ok());
  EXPECT_EQ(Machine().state, "committed");
}

TEST_F(RecoveryOpsTest, ReprotectSendsOnlyDifferingBlocksThenFailback) {
  ASSERT_TRUE(ops_->FailoverStart("web1", {{"point", std::to_string(points_[2])}}).ok());
  EXPECT_FALSE(ops_->Reprotect("web1", {}).ok());  // needs a commit first
  auto c = ops_->FailoverCommit("web1");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string url = (*c)["failover"]["disks"][0]["nbd_url"];
  // The original disk survived as it was at point 3; the recovered machine then wrote 3 blocks.
  const std::string original = dir_ + "/original.img";
  {
    std::ofstream out(original, std::ios::binary);
    out << ReadAtSeq(disk_, 3, 0, kDiskBytes);
  }
  std::string out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x11 1M 192k' '" + url + "'", &out), 0) << out;
  auto r = ops_->Reprotect("web1", {{"targets", {{"web1-disk0", original}}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  json st = (*r)["failover"]["reprotect"][0];
  EXPECT_EQ(st["mode"], "delta");
  EXPECT_EQ(st["blocks"], kDiskBytes / 65536);
  EXPECT_EQ(st["blocks_sent"], 3u);
  EXPECT_EQ(ReadAll(original), ReadExport(url));
  EXPECT_EQ(Machine().state, "protected");
  EXPECT_EQ(Machine().direction, "reverse");
  // A lost original disk gets a full sync (zero blocks stay holes).
  const std::string lost = dir_ + "/lost.img";
  // Failback: the recovered machine writes again, then goes home.
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x22 0 64k' '" + url + "'", &out), 0) << out;
  const std::string final_disk = ReadExport(url);
  auto fb = ops_->Failback("web1", {{"targets", {{"web1-disk0", lost}}}});
  ASSERT_TRUE(fb.ok()) << fb.status().ToString();
  EXPECT_EQ((*fb)["failback"][0]["mode"], "full");
  EXPECT_EQ(ReadAll(lost), final_disk);
  EXPECT_EQ(Machine().state, "protected");
  EXPECT_EQ(Machine().direction, "forward");
  EXPECT_TRUE(ops_->exports()->List("web1").empty());
  EXPECT_FALSE(ops_->Failback("web1", {}).ok());  // nothing to fail back now
}

TEST_F(RecoveryOpsTest, RecoveryPlanRunsFailoverAndDrillAsJobs) {
  const std::string marker = dir_ + "/before.txt";
  std::string yaml =
      "name: site\ngroups:\n  - name: web\n    machines: [web1]\n    before:\n"
      "      - name: note\n        script: {path: /bin/sh, args: [-c, 'echo $LIFELINE_OPERATION "
      "> " +
      marker + "']}\n";
  auto saved = control::SavePlan(catalog_.get(), yaml, "site.yaml");
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  auto d = ops_->PlanRun("site", {{"operation", "drill"}, {"point", std::to_string(points_[0])}});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)["kind"], "plan-drill");
  EXPECT_EQ(Machine().drill_state, "drill-running");
  EXPECT_EQ(ReadAll(marker), "drill\n");
  ASSERT_TRUE(ops_->DrillCleanup("web1", {}).ok());
  auto f =
      ops_->PlanRun("site", {{"operation", "failover"}, {"point", std::to_string(points_[1])}});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(Machine().state, "failed-over");
  EXPECT_EQ(ReadAll(marker), "failover\n");
  auto rec = ops_->Recovery("web1");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)["failover"]["disks"][0]["point_id"], points_[1]);
  EXPECT_EQ(ReadExport((*rec)["failover"]["disks"][0]["nbd_url"]),
            ReadAtSeq(disk_, 2, 0, kDiskBytes));
  // A failback plan needs a re-protected machine.
  EXPECT_FALSE(ops_->PlanRun("site", {{"operation", "failback"}}).ok());
  EXPECT_EQ(ops_->PlanRun("site", {{"operation", "teleport"}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ops_->PlanRun("nosuch", {{"operation", "drill"}}).status().code(), Code::kNotFound);
}

TEST_F(RecoveryOpsTest, RefusesMalformedRequests) {
  EXPECT_EQ(ops_->DrillStart("web1", json::array()).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ops_->DrillStart("web1", {{"point", 7}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ops_->FailoverStart("web1", {{"planned", "yes"}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ops_->FailoverStart("web1", {{"mode", "copy"}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ops_->FailoverChangePoint("web1", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Machine().state, "protected");
}

TEST_F(RecoveryOpsTest, NicAddressesComeFromTheNetworkMapping) {
  control::Machine m = Machine();
  m.nics = {{0, "lan", "10.0.0.5", "52:54:00:00:00:01"}};
  RT_ASSERT_OK(catalog_->UpdateMachineConfig(m));
  // Unmapped: refused before any job, the machine stays protected.
  auto refused = ops_->FailoverStart("web1", {{"planned", false}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kNotFound);
  EXPECT_NE(refused.status().message().find("lifeline netmap add lan"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(ops_->DrillStart("web1", {}).status().code(), Code::kNotFound);
  EXPECT_TRUE(catalog_->ListJobs({})->empty());
  EXPECT_EQ(Machine().state, "protected");

  control::NetworkMapping nm;
  nm.source = "lan";
  nm.recovery = {"dr-lan", *control::Cidr::Parse("10.50.1.0/24"),
                 *control::IpAddress::Parse("10.50.1.1"), {}};
  nm.drill = {"drill-lan", *control::Cidr::Parse("10.0.0.0/24"), std::nullopt, {}};
  RT_ASSERT_OK(catalog_->PutNetworkMapping(nm));
  RT_ASSERT_OK(catalog_->PutStaticIp({"web1", 0, control::NetworkMode::kRecovery,
                                      *control::IpAddress::Parse("10.50.1.40")}));
  // The launched copy sees the static recovery address, the gateway and the target network.
  const std::string env = dir_ + "/failover.env";
  auto r = ops_->FailoverStart(
      "web1", {{"launcher_command", "env | grep ^LIFELINE_NIC > " + env + "; exec sleep 60"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["failover"]["nics"][0]["ip"], "10.50.1.40");
  EXPECT_EQ((*r)["failover"]["nics"][0]["reason"], "static rule");
  std::string seen;
  for (int i = 0; i < 300 && seen.find("LIFELINE_NIC_0_GATEWAY") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    seen = ReadAll(env);
  }
  EXPECT_NE(seen.find("LIFELINE_NIC_0_IP=10.50.1.40\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("LIFELINE_NIC_0_NETWORK=dr-lan\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("LIFELINE_NIC_0_GATEWAY=10.50.1.1\n"), std::string::npos) << seen;
  auto instances = catalog_->ListInstances(Machine().id, "failover");
  ASSERT_TRUE(instances.ok());
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ((*instances)[0].ips, "10.50.1.40");
  ASSERT_TRUE(ops_->FailoverCancel("web1").ok());
}

TEST_F(RecoveryOpsTest, FailoverToATimeMaterializedThenCancel) {
  auto r = ops_->FailoverStart(
      "web1",
      {{"point", "time:" + FormatTime(kT0 + 2 * kSecond + kSecond / 2)}, {"mode", "materialize"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  json f = (*r)["failover"];
  EXPECT_EQ(f["disks"][0]["seq"], 2u);
  EXPECT_EQ(ReadAll(f["disks"][0]["image"]), ReadAtSeq(disk_, 2, 0, kDiskBytes));
  auto c = ops_->FailoverCancel("web1");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Machine().state, "protected");
  EXPECT_FALSE(std::filesystem::exists(f["disks"][0]["image"].get<std::string>()));
  EXPECT_EQ(disk_->Points().size(), 3u);  // cancel keeps every point
  EXPECT_FALSE(ops_->FailoverCommit("web1").ok());
}

TEST_F(RecoveryOpsTest, PlannedFailoverWaitsForTheDrainAndLosesNothing) {
  // The source was stopped, but its last writes are still arriving.
  std::atomic<bool> done{false};
  // The agent's last capture cycle: writes, then a pause longer than the quiet time (a scan
  // agent between cycles), then the rest and the cycle's point.
  std::thread late([&] {
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(i == 4 ? 600 : 60));
      ASSERT_TRUE(
          WriteFill(disk_, 4096 * (10 + i), char('p' + i), 4096, kT0 + (20 + i) * kSecond).ok());
    }
    store::PointRequest p;
    ASSERT_TRUE(disk_->AddPoint(p).ok());
    done = true;
  });
  auto r = ops_->FailoverStart("web1", {{"planned", true}, {"launch", false}});
  late.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(done);
  EXPECT_EQ(disk_->durable_seq(), 11u);
  json f = (*r)["failover"];
  EXPECT_EQ(f["disks"][0]["seq"], 11u);  // every write: zero data loss
  EXPECT_EQ(ReadExport(f["disks"][0]["nbd_url"]), ReadAtSeq(disk_, 11, 0, kDiskBytes));
  EXPECT_EQ(Machine().state, "failed-over");
  EXPECT_EQ(ops_->FailoverStart("web1", {{"planned", true}, {"point", "latest"}}).status().code(),
            Code::kInvalidArgument);
}

TEST_F(RecoveryOpsTest, PlannedFailoverWithoutAnAgentCycleTimesOut) {
  ops_.reset();
  RecoveryOptions o;
  o.dir = dir_;
  o.drain_quiet_ms = 100;
  o.drain_timeout_ms = 800;
  auto ops = RecoveryOps::Create(store_.get(), catalog_.get(), o);
  ASSERT_TRUE(ops.ok());
  ops_ = std::move(*ops);
  auto r = ops_->FailoverStart("web1", {{"planned", true}, {"launch", false}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no complete capture cycle"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(Machine().state, "protected");
  EXPECT_EQ(disk_->Points().size(), 3u);
}

TEST_F(RecoveryOpsTest, RetentionDuringADrillKeepsTheExportReadable) {
  const std::string at_p1 = ReadAtSeq(disk_, 1, 0, kDiskBytes);
  auto r = ops_->DrillStart("web1", {{"point", std::to_string(points_[0])}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string url = (*r)["exports"][0]["nbd_url"];
  // Replication goes on: the same range is rewritten many times over the next hours.
  for (int i = 0; i < 20; ++i)
    RT_ASSERT_OK(WriteFill(disk_, 0, char('A' + i), 65536, kT0 + (100 + i * 600) * kSecond));
  // A tiny window: without the pin everything but the last minute would fold into the base.
  RT_ASSERT_OK(disk_->SetRetention({.window_seconds = 60, .keep_all_seconds = 0,
                                    .keep_one_per_seconds = 60}));
  const int64_t now = kT0 + 20000 * kSecond;
  auto ret = disk_->ApplyRetention(now);
  ASSERT_TRUE(ret.ok()) << ret.status().ToString();
  EXPECT_EQ(ret->held_by_pin_seq, 1u);
  EXPECT_EQ(disk_->folded_seq(), 1u);
  EXPECT_EQ(ReadExport(url), at_p1);  // byte-exact while retention ran
  bool kept = false;
  for (const auto& p : disk_->Points()) kept |= p.id == points_[0];
  EXPECT_TRUE(kept) << "the drilled point was thinned away";

  ASSERT_TRUE(ops_->DrillCleanup("web1", {}).ok());
  EXPECT_TRUE(disk_->Pins().empty());
  auto next = disk_->ApplyRetention(now);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->held_by_pin_seq, 0u);
  EXPECT_GT(disk_->folded_seq(), 20u);  // the window applies again
}

TEST_F(RecoveryOpsTest, DrillAndFailoverExportsSurviveARestartOfTheVault) {
  auto r = ops_->DrillStart("web1", {{"point", std::to_string(points_[1])}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string url = (*r)["exports"][0]["nbd_url"];
  std::string out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x77 64k 128k' '" + url + "'", &out), 0) << out;
  std::string expect = ReadAtSeq(disk_, 2, 0, kDiskBytes);
  std::memset(expect.data() + 65536, 0x77, 131072);

  // The vault's recovery side goes away and comes back over the same directory.
  ops_.reset();
  EXPECT_NE(Shell("qemu-io -f raw -c 'read 0 4k' '" + url + "'", &out), 0);  // really gone
  auto again = RecoveryOps::Create(store_.get(), catalog_.get(), RecoveryOptions{.dir = dir_});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ops_ = std::move(*again);
  auto rec = ops_->Recovery("web1");
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ((*rec)["exports"].size(), 1u);
  EXPECT_EQ((*rec)["exports"][0]["nbd_url"], url);
  EXPECT_EQ(ReadExport(url), expect);
  EXPECT_EQ(Machine().drill_state, "drill-running");
  ASSERT_TRUE(ops_->DrillCleanup("web1", {}).ok());
  EXPECT_TRUE(ops_->exports()->List().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/recovery/overlays"));
  EXPECT_TRUE(disk_->Pins().empty());

  // A failover in export mode, the same way.
  auto f = ops_->FailoverStart("web1", {{"point", std::to_string(points_[0])}, {"launch", false}});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::string furl = (*f)["failover"]["disks"][0]["nbd_url"];
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x42 1M 64k' '" + furl + "'", &out), 0) << out;
  std::string fexpect = ReadAtSeq(disk_, 1, 0, kDiskBytes);
  std::memset(fexpect.data() + (1 << 20), 0x42, 65536);
  ops_.reset();
  again = RecoveryOps::Create(store_.get(), catalog_.get(), RecoveryOptions{.dir = dir_});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ops_ = std::move(*again);
  EXPECT_EQ(ReadExport(furl), fexpect);
  EXPECT_EQ(Machine().state, "failed-over");
  ASSERT_TRUE(ops_->FailoverCancel("web1").ok());
  EXPECT_TRUE(ops_->exports()->List().empty());
  EXPECT_TRUE(disk_->Pins().empty());
  EXPECT_EQ(Machine().state, "protected");
}

}  // namespace
}  // namespace lifeline::vault

namespace lifeline::vault {
namespace {

// Failback at the primary vault writes the final point into the original disk: only the
// blocks that differ, or the whole disk when the original is gone.
TEST_F(RecoveryOpsTest, MaterializeIntoTheOriginalDiskWritesOnlyDifferingBlocks) {
  const std::string original = dir_ + "/original.img";
  {
    std::ofstream out(original, std::ios::binary);
    out << ReadAtSeq(disk_, 2, 0, kDiskBytes);  // the original disk as it was at seq 2
  }
  EXPECT_EQ(ops_->FailoverStart("web1", {{"targets", {{"web1-disk0", original}}}}).status().code(),
            Code::kInvalidArgument);  // targets need materialize
  EXPECT_EQ(ops_->FailoverStart("web1", {{"mode", "materialize"}, {"targets", {{"web1-disk0", 7}}}})
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ops_->FailoverStart("web1", {{"drain_cycles", 0}}).status().code(),
            Code::kInvalidArgument);
  auto r = ops_->FailoverStart("web1", {{"mode", "materialize"},
                                        {"launch", false},
                                        {"targets", {{"web1-disk0", original}}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  json d = (*r)["failover"]["disks"][0];
  EXPECT_EQ(d["image"], original);
  EXPECT_EQ(d["written"]["mode"], "delta");
  EXPECT_EQ(d["written"]["blocks_sent"], 1u);  // seq 3 changed one 64 KiB block
  EXPECT_EQ(ReadAll(original), ReadAtSeq(disk_, 3, 0, kDiskBytes));
  // Cancel removes the vault's own images, never an original disk.
  ASSERT_TRUE(ops_->FailoverCancel("web1").ok());
  EXPECT_TRUE(std::filesystem::exists(original));
  std::filesystem::remove(original);
  r = ops_->FailoverStart("web1", {{"mode", "materialize"},
                                   {"launch", false},
                                   {"targets", {{"web1-disk0", original}}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["failover"]["disks"][0]["written"]["mode"], "full");
  EXPECT_EQ((*r)["failover"]["disks"][0]["written"]["blocks_sent"], 2u);  // data blocks only
  EXPECT_EQ(ReadAll(original), ReadAtSeq(disk_, 3, 0, kDiskBytes));
}

TEST_F(RecoveryOpsTest, ContinuousReprotectChecksItsRequestAndNeedsImages) {
  ASSERT_TRUE(ops_->FailoverStart("web1", {{"launch", false}}).ok());  // export mode
  ASSERT_TRUE(ops_->FailoverCommit("web1").ok());
  const std::string ca = dir_ + "/primary-ca.crt";
  { std::ofstream(ca) << "not checked here"; }
  json good = {{"vault", "https://127.0.0.1:1"}, {"ca", ca}, {"token", "t"}, {"agent", "dr"}};
  for (const char* drop : {"vault", "ca", "token", "agent"}) {
    json bad = good;
    bad.erase(drop);
    EXPECT_EQ(ops_->Reprotect("web1", {{"reverse", bad}}).status().code(), Code::kInvalidArgument)
        << drop;
  }
  json bad = good;
  bad["vault"] = "http://127.0.0.1:1";
  EXPECT_EQ(ops_->Reprotect("web1", {{"reverse", bad}}).status().code(), Code::kInvalidArgument);
  bad = good;
  bad["interval_s"] = 0;
  EXPECT_EQ(ops_->Reprotect("web1", {{"reverse", bad}}).status().code(), Code::kInvalidArgument);
  bad = good;
  bad["ca"] = dir_ + "/missing.crt";
  EXPECT_EQ(ops_->Reprotect("web1", {{"reverse", bad}}).status().code(), Code::kNotFound);
  EXPECT_EQ(ops_->Reprotect("web1", {{"reverse", good}, {"targets", json::object()}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Machine().state, "committed");
  // An exported failover cannot be read by an agent: refused, back to committed.
  auto r = ops_->Reprotect("web1", {{"reverse", good}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--materialize"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(Machine().state, "committed");
  // The token is kept beside the failover record, readable by the vault only.
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/recovery/web1/reverse.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The offline form still works and forgets the reverse configuration.
  auto off = ops_->Reprotect("web1", {{"targets", {{"web1-disk0", dir_ + "/orig.img"}}}});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/recovery/web1/reverse.json"));
  EXPECT_EQ(Machine().direction, "reverse");
}

// A scan agent's idle cycle ends with a point the store already has: the drain counts the
// point messages; the first may end a cycle begun before the drain, so drain_cycles 2 waits
// for three.
TEST_F(RecoveryOpsTest, PlannedFailoverOfAnIdleSourceCountsPointMessages) {
  ops_.reset();
  std::atomic<uint64_t> messages{5};
  RecoveryOptions o;
  o.dir = dir_;
  o.drain_quiet_ms = 100;
  o.drain_timeout_ms = 5000;
  o.points_received = [&](const std::string&) { return messages.load(); };
  auto ops = RecoveryOps::Create(store_.get(), catalog_.get(), o);
  ASSERT_TRUE(ops.ok());
  ops_ = std::move(*ops);
  std::atomic<bool> third{false};
  std::thread agent([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    messages++;  // the cycle that was running at the stop
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    messages++;  // one that began after the stop
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    third = true;
    messages++;  // and a second one
  });
  auto r = ops_->FailoverStart("web1", {{"planned", true}, {"launch", false}, {"drain_cycles", 2}});
  agent.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(third);  // it waited for two cycles begun after the drain
  EXPECT_EQ((*r)["failover"]["disks"][0]["seq"], 3u);
  EXPECT_EQ(Machine().state, "failed-over");
  ops_.reset();  // before `messages` goes out of scope
}

// With an agent channel the drain is the agent's answer: the vault puts a request in the
// machine's capture config, the agent reports "draining", then "drained at seq N"; the final
// point is at exactly N (not at a later seq the replica may hold), and a cancel lifts the
// request.
TEST_F(RecoveryOpsTest, PlannedFailoverUsesTheSeqTheAgentDrainedAt) {
  std::mutex mu;
  json report;  // the agent's latest report of web1-disk0
  Reopen({.drain_timeout_ms = 5000, .agent_report = [&](const std::string& disk_id) {
            std::lock_guard l(mu);
            return disk_id == "web1-disk0" ? report : json();
          }});
  std::atomic<uint64_t> seen{0};
  std::thread agent([&] {
    for (int i = 0; i < 200 && seen == 0; ++i) {
      seen = DrainRequest();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    {
      std::lock_guard l(mu);
      report = {{"drain", {{"request", seen.load()}, {"state", "draining"}, {"seq", 0}}}};
    }
    // What was queued when the fence came arrives (seqs 4, 5), then the answer. Seq 6 stands
    // for anything after the drained seq: the final point must not include it.
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ASSERT_TRUE(
          WriteFill(disk_, 4096 * (20 + i), char('q' + i), 4096, kT0 + (30 + i) * kSecond).ok());
    }
    {
      std::lock_guard l(mu);
      report = {{"drain", {{"request", seen.load()}, {"state", "drained"}, {"seq", 5}}}};
    }
  });
  auto r =
      ops_->FailoverStart("web1", {{"planned", true}, {"launch", false}, {"mode", "materialize"}});
  agent.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_NE(seen.load(), 0u) << "no drain request reached the agent";
  json f = (*r)["failover"];
  EXPECT_EQ(f["disks"][0]["seq"], 5u);
  EXPECT_TRUE(ReadAll(f["disks"][0]["image"]) == ReadAtSeq(disk_, 5, 0, kDiskBytes));
  EXPECT_EQ(Machine().state, "failed-over");
  EXPECT_EQ(DrainRequest(), seen.load());  // the fence holds while failed over
  ASSERT_TRUE(ops_->FailoverCancel("web1").ok());
  EXPECT_EQ(DrainRequest(), 0u) << "cancel must lift the fence";
  ops_.reset();  // before `report` goes out of scope
}

TEST_F(RecoveryOpsTest, PlannedFailoverFailsClearlyWhenTheAgentDoesNotAnswer) {
  Reopen({.drain_timeout_ms = 600, .agent_report = [](const std::string&) { return json(); }});
  auto r = ops_->FailoverStart("web1", {{"planned", true}, {"launch", false}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("did not confirm the drain of disk web1-disk0 within"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("An unplanned failover needs no source"), std::string::npos);
  EXPECT_EQ(Machine().state, "protected");
  EXPECT_EQ(DrainRequest(), 0u) << "a failed drain must lift the fence";
  EXPECT_EQ(disk_->Points().size(), 3u);
}

// A vault stopped while the drain waits: the job stays running with its request in the
// catalog (the source stays fenced), and the next start resumes the wait with the same
// request, which the agent then answers.
TEST_F(RecoveryOpsTest, PlannedDrainResumesAfterAVaultRestart) {
  Reopen({.drain_timeout_ms = 30000, .agent_report = [](const std::string&) { return json(); }});
  const json args = {
      {"machine", "web1"}, {"point", "latest-processed"}, {"mode", "export"}, {"launch", false}};
  control::JobSpec spec;
  spec.kind = "failover";
  spec.target = "web1";
  spec.steps = {{"failover.drain", "wait for the source to drain", args},
                {"failover.recover", "start the machine from the recovery point", args}};
  auto job = ops_->runner()->Submit(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  for (int i = 0; i < 200 && DrainRequest() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const uint64_t request = DrainRequest();
  ASSERT_NE(request, 0u);
  ops_.reset();  // the vault stops in the middle of the wait
  EXPECT_EQ(catalog_->GetJob(*job)->state, control::JobState::kRunning);
  EXPECT_EQ(DrainRequest(), request) << "the fence must hold across the restart";
  // The agent answers the same request once the vault is back.
  Reopen({.drain_timeout_ms = 30000, .agent_report = [request](const std::string&) {
            return json{{"drain", {{"request", request}, {"state", "drained"}, {"seq", 3}}}};
          }});
  auto done = ops_->runner()->Wait(*job, 20000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, control::JobState::kDone) << done->error;
  EXPECT_EQ(Machine().state, "failed-over");
  EXPECT_EQ(DrainRequest(), request);
  ASSERT_TRUE(ops_->FailoverCancel("web1").ok());
  EXPECT_EQ(DrainRequest(), 0u);
}

}  // namespace
}  // namespace lifeline::vault
