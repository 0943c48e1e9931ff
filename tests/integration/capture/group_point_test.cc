// Cross-machine consistency-group points: two agents (machines a and b, each its own NBD
// server, capture queue and TLS replication session) and a vault that coordinates group
// points over the replication sessions. A client writes on a, waits for the completion,
// then writes the same counter on b (b's write depends on a's). At every recorded group
// point, b's replica may never hold a counter that a's replica lacks. Also: a member that
// cannot hold aborts the point on every member, and the holds stay within 50 ms.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "../../unit/wire/test_pki.h"
#include "../nbd/nbd_server_process.h"
#include "agent/nbd_capture.h"
#include "common/fs.h"
#include "control/catalog.h"
#include "raw_nbd_client.h"
#include "store/replica_store.h"
#include "vault/group_coordinator.h"
#include "vault/replication_service.h"
#include "vault/vault.h"

namespace lifeline {
namespace {

using capture_testing::RawNbdClient;
namespace fs = std::filesystem;

constexpr uint64_t kDisk = 8u << 20;
constexpr uint64_t kBlocks = 64;  // the counters live in the first 64 blocks of 4 KiB

struct Agent {
  std::unique_ptr<agent::DiskSender> sender;
  std::unique_ptr<agent::NbdCapture> capture;
};

class GroupPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (fs::temp_directory_path() /
            ("ll-group-" + std::to_string(::getpid()) + "-" + info->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    pki_ = wire::testing::MakeTestPki("agent-1");
    store_ = std::move(store::ReplicaStore::Open(dir_ + "/store", {})).value();
    vault::ReplicationOptions opts;
    auto svc = vault::ReplicationService::Start(
        opts, wire::testing::ServerContext(pki_),
        [this](const std::string&, const wire::Hello& h) -> Result<store::DiskReplica*> {
          return store_->Disk(h.disk_id);
        });
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    service_ = std::move(svc).value();
    coordinator_ = std::make_unique<vault::GroupCoordinator>(service_.get(), store_.get());
  }
  void TearDown() override {
    agents_.clear();
    coordinator_.reset();
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  // One machine's agent serving one disk; `nbd` false: a sender without capture (a disk
  // that is not in nbd mode).
  Agent* StartAgent(const std::string& machine, bool nbd = true) {
    std::string disk_id = machine + "-disk0";
    EXPECT_TRUE(store_->CreateDisk(disk_id, kDisk).ok());
    std::string img = dir_ + "/" + machine + ".img";
    {
      FILE* f = std::fopen(img.c_str(), "w");
      std::fclose(f);
    }
    fs::resize_file(img, kDisk);
    agent::SenderOptions so;
    so.vaults = {{"127.0.0.1", service_->port()}};
    so.tls = wire::testing::ClientContext(pki_.ca, pki_.client);
    so.agent_id = "agent-1";
    so.machine = machine;
    so.disk_id = disk_id;
    so.disk_size_bytes = kDisk;
    so.streams = 2;
    auto a = std::make_unique<Agent>();
    a->sender = std::make_unique<agent::DiskSender>(so);
    auto durable = a->sender->Start(10000);
    EXPECT_TRUE(durable.ok()) << durable.status().ToString();
    if (nbd) {
      agent::NbdCaptureOptions co;
      co.disk_path = img;
      co.state_dir = dir_ + "/state-" + machine;
      co.point_interval_ms = 0;
      a->capture = std::make_unique<agent::NbdCapture>(co, a->sender.get());
      Status s = a->capture->Start(*durable + 1);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    agents_.push_back(std::move(a));
    return agents_.back().get();
  }
  // Group points (kind group or with a group id) of a member disk.
  size_t GroupPoints(const std::string& disk_id) {
    size_t n = 0;
    for (const auto& p : (*store_->Disk(disk_id))->Points())
      n += (!p.group_id.empty() || p.kind == store::PointKind::kGroup) ? 1 : 0;
    return n;
  }
  // The largest counter in a replica's counter blocks at `seq`.
  uint64_t MaxCounter(const std::string& disk_id, uint64_t seq) {
    auto* d = *store_->Disk(disk_id);
    std::string buf(kBlocks * 4096, '\0');
    Status s = d->ReadAt(seq, 0, buf.data(), buf.size());
    EXPECT_TRUE(s.ok()) << s.ToString();
    uint64_t m = 0;
    for (uint64_t b = 0; b < kBlocks; ++b) {
      uint64_t v;
      std::memcpy(&v, buf.data() + b * 4096, 8);
      m = std::max(m, v);
    }
    return m;
  }

  std::string dir_;
  wire::testing::TestPki pki_;
  std::unique_ptr<store::ReplicaStore> store_;
  std::unique_ptr<vault::ReplicationService> service_;
  std::unique_ptr<vault::GroupCoordinator> coordinator_;
  std::vector<std::unique_ptr<Agent>> agents_;
};

std::string Block(uint64_t counter) {
  std::string b(4096, '\0');
  for (size_t i = 0; i + 8 <= b.size(); i += 8) std::memcpy(b.data() + i, &counter, 8);
  return b;
}

TEST_F(GroupPointTest, GroupPointsAcrossTwoMachinesAreConsistent) {
  Agent* a = StartAgent("a");
  Agent* b = StartAgent("b");
  ASSERT_TRUE(a->capture->WaitCaughtUp(20000).ok());
  ASSERT_TRUE(b->capture->WaitCaughtUp(20000).ok());
  RawNbdClient ca, cb;
  ASSERT_TRUE(ca.Connect(a->capture->port()).ok());
  ASSERT_TRUE(cb.Connect(b->capture->port()).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  Status writer_status;
  std::thread writer([&] {
    for (uint64_t i = 1; !stop; ++i) {
      uint64_t off = (i % kBlocks) * 4096;
      // b's write is issued only after a's completed: a causal dependency across machines.
      Status s = ca.Write(off, Block(i));
      if (s.ok()) s = cb.Write(off, Block(i));
      if (!s.ok()) {
        writer_status = s;
        return;
      }
      written = i;
    }
  });
  while (written < 100) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  constexpr int kAttempts = 150;
  std::vector<vault::GroupPointOutcome> points;
  std::vector<int64_t> held_us;
  std::vector<int64_t> coordination_us;
  int aborted = 0;
  for (int i = 0; i < kAttempts; ++i) {
    auto r = coordinator_->TakePoint("g1", {"a-disk0", "b-disk0"}, "");
    if (r.ok()) {
      points.push_back(*r);
      for (const auto& [id, us] : r->held_us) held_us.push_back(us);
      coordination_us.push_back(r->coordination_us);
    } else {
      ++aborted;
      EXPECT_EQ(r.status().code(), Code::kBusy) << r.status().ToString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  writer.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status.ToString();
  EXPECT_GE(points.size(), size_t(kAttempts * 2 / 3))
      << aborted << " of " << kAttempts << " attempts aborted";
  // Every recorded group point is listed complete by the store, and consistent.
  auto listed = store_->GroupPoints("g1");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), points.size());
  int with_writes = 0;
  for (const auto& p : points) {
    uint64_t max_a = MaxCounter("a-disk0", p.seqs.at("a-disk0"));
    uint64_t max_b = MaxCounter("b-disk0", p.seqs.at("b-disk0"));
    EXPECT_LE(max_b, max_a) << "group point " << p.group_point_id << " holds b's write " << max_b
                            << " without a's (a at " << max_a << ")";
    with_writes += max_b > 0;
  }
  EXPECT_GT(with_writes, int(points.size()) / 2);
  std::sort(held_us.begin(), held_us.end());
  std::sort(coordination_us.begin(), coordination_us.end());
  ASSERT_FALSE(held_us.empty());
  int64_t p50 = held_us[held_us.size() / 2], max = held_us.back();
  std::printf(
      "group points: %zu recorded, %d aborted of %d; completions held p50 %.3f ms, max %.3f ms "
      "(bound 50 ms); coordination p50 %.3f ms; %llu dependent write pairs\n",
      points.size(), aborted, kAttempts, p50 / 1000.0, max / 1000.0,
      coordination_us[coordination_us.size() / 2] / 1000.0, (unsigned long long)written.load());
  EXPECT_LE(max, 50'000);
}

TEST_F(GroupPointTest, AMemberThatCannotHoldAbortsThePointEverywhere) {
  Agent* a = StartAgent("a");
  StartAgent("c", /*nbd=*/false);  // connected, but its disk is not captured in nbd mode
  ASSERT_TRUE(a->capture->WaitCaughtUp(20000).ok());
  RawNbdClient ca;
  ASSERT_TRUE(ca.Connect(a->capture->port()).ok());
  ASSERT_TRUE(ca.Write(0, Block(1)).ok());
  auto r = coordinator_->TakePoint("g2", {"a-disk0", "c-disk0"}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not in nbd capture mode"), std::string::npos)
      << r.status().ToString();
  // No group point recorded on any member (a's own first point, labelled
  // initial-replication, may exist), and a's hold was released at once (not at its deadline).
  for (const char* id : {"a-disk0", "c-disk0"}) EXPECT_EQ(GroupPoints(id), 0u) << id;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(ca.Write(4096, Block(2)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(40));
  // A disk whose agent never connected: refused before any hold.
  auto never = coordinator_->TakePoint("g2", {"a-disk0", "nobody-disk0"}, "");
  EXPECT_EQ(never.status().code(), Code::kFailedPrecondition);
  // The same group works once its members can hold.
  auto ok = coordinator_->TakePoint("g3", {"a-disk0"}, "solo");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(GroupPoints("a-disk0"), 1u);
}

TEST_F(GroupPointTest, ALateAnswerOrAnExpiredHoldAbortsThePoint) {
  Agent* a = StartAgent("a");
  Agent* slow = StartAgent("s", /*nbd=*/false);
  ASSERT_TRUE(a->capture->WaitCaughtUp(20000).ok());
  RawNbdClient ca;
  ASSERT_TRUE(ca.Connect(a->capture->port()).ok());
  ASSERT_TRUE(ca.Write(0, Block(1)).ok());
  // A member that answers after its hold would have ended (80 ms > 50 ms).
  std::atomic<int> releases{0};
  agent::GroupHoldHandler late;
  late.hold = [](const wire::GroupHold&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    wire::GroupHeld h;
    h.ok = true;
    h.seq = 0;
    return h;
  };
  late.release = [&](const wire::GroupRelease&) {
    releases++;
    return wire::GroupReleased{};
  };
  slow->sender->SetGroupHoldHandler(late);
  auto r = coordinator_->TakePoint("g4", {"a-disk0", "s-disk0"}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBusy) << r.status().ToString();
  EXPECT_NE(r.status().message().find("did not answer the hold"), std::string::npos)
      << r.status().ToString();
  // A member that answers in time but whose hold had expired before the release.
  agent::GroupHoldHandler expired;
  expired.hold = [](const wire::GroupHold&) {
    wire::GroupHeld h;
    h.ok = true;
    h.seq = 0;
    return h;
  };
  expired.release = [](const wire::GroupRelease&) {
    wire::GroupReleased rel;
    rel.held = false;
    return rel;
  };
  slow->sender->SetGroupHoldHandler(expired);
  auto r2 = coordinator_->TakePoint("g4", {"a-disk0", "s-disk0"}, "");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Code::kBusy) << r2.status().ToString();
  EXPECT_NE(r2.status().message().find("expired"), std::string::npos) << r2.status().ToString();
  // No group point recorded anywhere (a's own first point, labelled initial-replication,
  // may exist: its first write can land before the agent has marked its empty disk as
  // copied), every hold was released, and a's writes flow at once.
  for (const char* id : {"a-disk0", "s-disk0"}) EXPECT_EQ(GroupPoints(id), 0u) << id;
  EXPECT_GE(releases.load(), 1);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(ca.Write(4096, Block(2)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(40));
  slow->sender->SetGroupHoldHandler({});
}

// A vault that kept capture modes in DIR/capture-modes.json (before schema 3) moves them
// into its catalog when it opens, once, and the assignments come from the catalog.
TEST(CaptureModesMigrationTest, TheOldFileMovesIntoTheCatalogOnce) {
  std::string dir =
      (fs::temp_directory_path() / ("ll-modes-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  ASSERT_TRUE(vault::Vault::Init(dir, {}).ok());
  {
    auto c = std::move(control::Catalog::Open(dir + "/catalog.db")).value();
    control::Site site;
    site.name = "host1";
    site.role = "primary";
    int64_t site_id = *c->AddSite(site);
    control::Machine m;
    m.name = "web";
    m.site_id = site_id;
    m.policy_id = c->GetPolicyByName("default")->id;
    ASSERT_TRUE(c->AddMachine(m).ok());
    control::Disk d;
    d.machine_id = c->GetMachineByName("web")->id;
    d.path = "/dev/null";
    d.size_bytes = 1 << 20;
    d.store_disk_id = "web-disk0";
    ASSERT_TRUE(c->AddDisk(d).ok());
  }
  ASSERT_TRUE(
      WriteFileAtomic(
          FileSystem::Posix(), dir + "/capture-modes.json",
          R"({"web": {"mode": "nbd", "nbd_listen": "127.0.0.1:10809", "point_interval_s": 2},
                                  "gone": {"mode": "nbd"}})")
          .ok());
  {
    auto v = vault::Vault::Open({.dir = dir});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    auto a = (*v)->Assignments("host1");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ((*a)[0].value("mode", ""), "nbd");
    EXPECT_EQ((*a)[0]["capture"].value("nbd_listen", ""), "127.0.0.1:10809");
    auto st = (*v)->MachineStatus("web");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)["capture"].value("mode", ""), "nbd");
  }
  EXPECT_FALSE(fs::exists(dir + "/capture-modes.json"));
  EXPECT_TRUE(fs::exists(dir + "/capture-modes.json.migrated"));
  // A damaged old file is refused with a clear error rather than ignored.
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Posix(), dir + "/capture-modes.json", "[1,2").ok());
  auto bad = vault::Vault::Open({.dir = dir});
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lifeline
