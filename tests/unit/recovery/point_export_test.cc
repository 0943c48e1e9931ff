// Point exports: choosing a point, the copy-on-write overlay (writes land in the overlay,
// the replica never changes: invariant 6), and qemu-io/qemu-img against the NBD export.
#include "vault/point_export.h"

#include <cstring>
#include <fstream>

#include "common/units.h"
#include "recovery_test_util.h"
#include "vault/overlay_map.h"
#include "store/replica_store.h"

namespace lifeline::vault {
namespace {

using namespace recovery_testing;

constexpr uint64_t kDiskBytes = 4 << 20;
constexpr int64_t kT0 = 1763884800LL * 1000000000LL;  // 2025-11-23T08:00:00Z
constexpr int64_t kSecond = 1000000000LL;

class PointExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("pexp");
    auto s = store::ReplicaStore::Open(dir_ + "/store");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    auto d = store_->CreateDisk("web1-disk0", kDiskBytes);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    disk_ = *d;
    // seq 1..2 then a crash point (id p1), seq 3 then an app point, seq 4 without a point.
    RT_ASSERT_OK(WriteFill(disk_, 0, 'a', 65536, kT0 + 1 * kSecond));
    RT_ASSERT_OK(WriteFill(disk_, 1 << 20, 'b', 4096, kT0 + 2 * kSecond));
    store::PointRequest p;
    p.seq = 2;
    auto p1 = disk_->AddPoint(p);
    ASSERT_TRUE(p1.ok()) << p1.status().ToString();
    p1_ = p1->id;
    RT_ASSERT_OK(WriteFill(disk_, 0, 'c', 4096, kT0 + 3 * kSecond));
    p.seq = 3;
    p.kind = store::PointKind::kApp;
    auto p2 = disk_->AddPoint(p);
    ASSERT_TRUE(p2.ok());
    p2_ = p2->id;
    RT_ASSERT_OK(WriteFill(disk_, 8192, 'd', 4096, kT0 + 4 * kSecond));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::unique_ptr<store::ReplicaStore> store_;
  store::DiskReplica* disk_ = nullptr;
  uint64_t p1_ = 0, p2_ = 0;
};

TEST_F(PointExportTest, ResolvesEveryChoice) {
  auto r = ResolvePoint(*disk_, "latest");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 4u);
  EXPECT_EQ(r->point_id, 0u);
  r = ResolvePoint(*disk_, "latest-processed");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 3u);
  EXPECT_EQ(r->point_id, p2_);
  r = ResolvePoint(*disk_, "latest-app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->point_id, p2_);
  r = ResolvePoint(*disk_, std::to_string(p1_));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 2u);
  r = ResolvePoint(*disk_, "id:" + std::to_string(p1_));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->point_id, p1_);
  r = ResolvePoint(*disk_, "seq:1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 1u);
  r = ResolvePoint(*disk_, "time:" + FormatTime(kT0 + 2 * kSecond + kSecond / 2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seq, 2u);
}

TEST_F(PointExportTest, RefusesBadChoices) {
  EXPECT_EQ(ResolvePoint(*disk_, "latest-group").status().code(), Code::kNotFound);
  EXPECT_EQ(ResolvePoint(*disk_, "999").status().code(), Code::kNotFound);
  EXPECT_EQ(ResolvePoint(*disk_, "seq:99").status().code(), Code::kNotFound);
  EXPECT_EQ(ResolvePoint(*disk_, "newest").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "seq:x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "id:").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "99999999999999999999999").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "22222222222222222222").status().code(),
            Code::kInvalidArgument);  // > 2^64
  EXPECT_EQ(ResolvePoint(*disk_, "seq:18446744073709551616").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "-1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ResolvePoint(*disk_, "seq:+1").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ResolvePoint(*disk_, "time:yesterday").ok());
}

TEST_F(PointExportTest, OverlayTakesWritesAndReplicaStaysUnchanged) {
  const std::string before_tree = TreeDigest(disk_->dir());
  const std::string before = ReadAtSeq(disk_, 2, 0, kDiskBytes);
  auto b = OverlayBackend::Create(disk_, 2, dir_ + "/o.overlay");
  ASSERT_TRUE(b.ok());
  auto backend = *b;
  EXPECT_EQ(backend->size(), kDiskBytes);
  std::string got(kDiskBytes, '\0');
  RT_ASSERT_OK(backend->Read(0, {reinterpret_cast<uint8_t*>(got.data()), got.size()}));
  EXPECT_EQ(got, before);  // the point as it was: 'a' at 0 (not the later 'c')
  EXPECT_EQ(got[0], 'a');

  // A write straddling a replica range, and zeroes over the 'b' range.
  std::string w(10000, 'X');
  RT_ASSERT_OK(
      backend->Write(60000, {reinterpret_cast<const uint8_t*>(w.data()), w.size()}, false));
  RT_ASSERT_OK(backend->WriteZeroes((1 << 20) + 1000, 100, {}, true));
  RT_ASSERT_OK(backend->Flush());
  std::string expect = before;
  std::memcpy(expect.data() + 60000, w.data(), w.size());
  std::memset(expect.data() + (1 << 20) + 1000, 0, 100);
  RT_ASSERT_OK(backend->Read(0, {reinterpret_cast<uint8_t*>(got.data()), got.size()}));
  EXPECT_EQ(got, expect);
  // A read that starts inside the overlay range and ends in the replica.
  std::string part(20000, '\0');
  RT_ASSERT_OK(backend->Read(65000, {reinterpret_cast<uint8_t*>(part.data()), part.size()}));
  EXPECT_EQ(part, expect.substr(65000, 20000));
  EXPECT_EQ(backend->overlay_bytes(), 10100u);

  // The replica: same bytes at every seq, same files, clean scrub.
  EXPECT_EQ(ReadAtSeq(disk_, 2, 0, kDiskBytes), before);
  EXPECT_EQ(ReadAtSeq(disk_, 4, 60000, 100), std::string(100, 'a'));
  EXPECT_EQ(ReadAtSeq(disk_, 4, 0, 4096), std::string(4096, 'c'));
  EXPECT_EQ(TreeDigest(disk_->dir()), before_tree);
  auto scrub = disk_->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok());
}

TEST_F(PointExportTest, QemuToolsReadAndWriteTheExport) {
  const std::string before_tree = TreeDigest(disk_->dir());
  const std::string at_p2 = ReadAtSeq(disk_, 3, 0, kDiskBytes);
  PointExports exports(store_.get(), dir_ + "/overlays");
  auto info = exports.Export("drill", "web1", "web1-disk0", "latest-processed");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->point.point_id, p2_);
  EXPECT_NE(exports.port(), 0);
  EXPECT_TRUE(std::filesystem::exists(info->overlay_path));
  // The same disk cannot be exported twice for the same operation.
  EXPECT_EQ(exports.Export("drill", "web1", "web1-disk0", "latest").status().code(), Code::kBusy);

  std::string out;
  // qemu-img sees the size; qemu-io reads the point's bytes ('c' at 0, 'a' after 4 KiB).
  ASSERT_EQ(Shell("qemu-img info -f raw '" + info->nbd_url + "'", &out), 0) << out;
  EXPECT_NE(out.find("4 MiB"), std::string::npos) << out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'read -P 0x63 0 4k' -c 'read -P 0x61 4k 60k' '" +
                      info->nbd_url + "'",
                  &out),
            0)
      << out;
  EXPECT_EQ(out.find("Pattern verification failed"), std::string::npos) << out;
  // Writes through NBD land in the overlay and read back.
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x5a 2M 256k' '" + info->nbd_url + "'", &out), 0)
      << out;
  ASSERT_EQ(Shell("qemu-io -f raw -c 'read -P 0x5a 2M 256k' '" + info->nbd_url + "'", &out), 0)
      << out;
  EXPECT_EQ(out.find("Pattern verification failed"), std::string::npos) << out;
  // A negative check: the pattern test can fail.
  EXPECT_NE(Shell("qemu-io -f raw -c 'read -P 0x5a 0 4k' '" + info->nbd_url + "'", &out), 0) << out;
  EXPECT_NE(out.find("Pattern verification failed"), std::string::npos) << out;

  // The replica is untouched; the overlay goes with the export.
  EXPECT_EQ(ReadAtSeq(disk_, 3, 0, kDiskBytes), at_p2);
  EXPECT_EQ(TreeDigest(disk_->dir()), before_tree);
  RT_ASSERT_OK(exports.Unexport("drill", "web1", "web1-disk0"));
  EXPECT_FALSE(std::filesystem::exists(info->overlay_path));
  EXPECT_TRUE(exports.List().empty());
  RT_ASSERT_OK(exports.Unexport("drill", "web1", "web1-disk0"));  // harmless twice
  EXPECT_NE(Shell("qemu-io -f raw -c 'read 0 4k' '" + info->nbd_url + "'", &out), 0) << out;
  auto scrub = disk_->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok());
}

TEST_F(PointExportTest, ExportsComeBackAfterARestartWithTheirOverlays) {
  const std::string state = dir_ + "/exports.json";
  const std::string at_p1 = ReadAtSeq(disk_, 2, 0, kDiskBytes);
  std::string url, overlay;
  uint16_t port = 0;
  {
    PointExports exports(store_.get(), dir_ + "/overlays", state);
    std::vector<std::string> problems;
    RT_ASSERT_OK(exports.Restore(&problems));  // nothing saved yet
    EXPECT_TRUE(problems.empty());
    auto info = exports.Export("drill", "web1", "web1-disk0", std::to_string(p1_));
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    url = info->nbd_url;
    overlay = info->overlay_path;
    port = exports.port();
    EXPECT_EQ(disk_->Pins().at("export/drill-web1-web1-disk0"), 2u);
    std::string out;
    ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x5a 2M 256k' -c 'write -z 0 4k' '" + url + "'",
                    &out),
              0)
        << out;
  }  // the object goes as the vault's process does; the files stay
  // A crash mid-append leaves a torn record at the map's tail; a crash mid-export leaves a
  // pin and an overlay nobody owns.
  {
    std::ofstream map(OverlayBackend::MapPath(overlay), std::ios::app | std::ios::binary);
    map << "torn!";
  }
  RT_ASSERT_OK(disk_->Pin("export/failover-web1-disk0", 3));
  { std::ofstream(dir_ + "/overlays/failover-web1-disk0.overlay") << "x"; }

  PointExports again(store_.get(), dir_ + "/overlays", state);
  std::vector<std::string> problems;
  RT_ASSERT_OK(again.Restore(&problems));
  EXPECT_TRUE(problems.empty()) << problems[0];
  ASSERT_EQ(again.List().size(), 1u);
  EXPECT_EQ(again.List()[0].nbd_url, url);
  EXPECT_EQ(again.port(), port);
  EXPECT_EQ(again.List()[0].point.point_id, p1_);
  EXPECT_EQ(disk_->Pins().size(), 1u);  // the leftover pin is gone, the export's is back
  EXPECT_EQ(disk_->Pins().count("export/drill-web1-web1-disk0"), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/overlays/failover-web1-disk0.overlay"));
  // The writes made before the restart, and the point's bytes everywhere else.
  std::string expect = at_p1;
  std::memset(expect.data() + (2 << 20), 0x5a, 256 << 10);
  std::memset(expect.data(), 0, 4096);
  std::string out;
  ASSERT_EQ(Shell("qemu-img convert -f raw -O raw '" + url + "' " + dir_ + "/read.img", &out), 0)
      << out;
  EXPECT_TRUE(ReadAll(dir_ + "/read.img") == expect) << "the restored export reads wrong bytes";
  // Still writable, and the writes survive another restart too.
  ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x33 3M 4k' '" + url + "'", &out), 0) << out;
  RT_ASSERT_OK(again.Unexport("drill", "web1", "web1-disk0"));
  EXPECT_TRUE(disk_->Pins().empty());
  EXPECT_FALSE(std::filesystem::exists(overlay));
  EXPECT_FALSE(std::filesystem::exists(OverlayBackend::MapPath(overlay)));
  PointExports third(store_.get(), dir_ + "/overlays", state);
  RT_ASSERT_OK(third.Restore(&problems));
  EXPECT_TRUE(third.List().empty());
}

TEST_F(PointExportTest, AnExportWhoseOverlayMapIsGoneIsLeftOutWithAProblem) {
  const std::string state = dir_ + "/exports.json";
  {
    PointExports exports(store_.get(), dir_ + "/overlays", state);
    ASSERT_TRUE(exports.Export("drill", "web1", "web1-disk0", "latest").ok());
  }
  // The overlay's map vanished (e.g. removed by hand): the export cannot come back.
  std::filesystem::remove(dir_ + "/overlays/drill-web1-web1-disk0.overlay.map");
  PointExports again(store_.get(), dir_ + "/overlays", state);
  std::vector<std::string> problems;
  RT_ASSERT_OK(again.Restore(&problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("drill-web1-web1-disk0"), std::string::npos) << problems[0];
  EXPECT_TRUE(again.List().empty());
  EXPECT_TRUE(disk_->Pins().empty());
}

TEST(OverlayMapCodec, DecodesRecordsAndStopsAtDamage) {
  std::string log(kOverlayMapMagic, kOverlayMapHeaderBytes);
  log += EncodeOverlayMapRecord({0, 4096, 1});
  log += EncodeOverlayMapRecord({8192, 100, 2});
  auto d = DecodeOverlayMap(log, 1 << 20);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->entries.size(), 2u);
  EXPECT_EQ(d->entries[1].offset, 8192u);
  EXPECT_EQ(d->entries[1].kind, 2);
  EXPECT_FALSE(d->torn);
  // Damage: a flipped byte, a record past the disk, an unknown kind, a short tail.
  std::string flipped = log;
  flipped[kOverlayMapHeaderBytes + kOverlayMapRecordBytes + 3] ^= 1;
  d = DecodeOverlayMap(flipped, 1 << 20);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->entries.size(), 1u);
  EXPECT_TRUE(d->torn);
  EXPECT_EQ(DecodeOverlayMap(log + EncodeOverlayMapRecord({(1 << 20) - 10, 11, 1}), 1 << 20)
                ->entries.size(),
            2u);
  EXPECT_EQ(DecodeOverlayMap(log + EncodeOverlayMapRecord({0, 1, 7}), 1 << 20)->entries.size(), 2u);
  EXPECT_EQ(DecodeOverlayMap(log + EncodeOverlayMapRecord({0, 0, 1}), 1 << 20)->entries.size(), 2u);
  EXPECT_TRUE(DecodeOverlayMap(log + "abc", 1 << 20)->torn);
  EXPECT_EQ(DecodeOverlayMap("", 1 << 20).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeOverlayMap("LLOVMAP2", 1 << 20).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace lifeline::vault
