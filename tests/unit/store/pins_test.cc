// Pins: retention never folds past, thins away or compacts the view of a pinned seq, pins
// survive a reopen, and the PINS codec refuses malformed files.
#include <gtest/gtest.h>

#include <fstream>

#include "store/disk_replica.h"
#include "store/pins.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

using testing::PatternBytes;
using testing::ReadAll;
using testing::ReferenceDisk;
using testing::TempDir;

constexpr uint64_t kDisk = 1 << 20;
constexpr int64_t kMinute = 60 * kNanosPerSecond;

class PinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("pins");
    Open(true);
  }
  void TearDown() override {
    disk_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(bool create) {
    disk_.reset();
    RetentionPolicy policy{.window_seconds = 3600, .keep_all_seconds = 600, .keep_one_per_seconds = 1800};
    DiskOptions o{nullptr, &clock_, /*segment_target_bytes=*/64 * 1024};
    disk_ = std::move(create ? DiskReplica::Create(dir_ + "/d", "d1", kDisk, policy, o)
                             : DiskReplica::Open(dir_ + "/d", o))
                .value();
  }
  // One 4 KiB write a minute over a small working set, a point every 5 writes.
  void Churn(uint64_t minutes) {
    for (uint64_t i = 0; i < minutes; ++i) {
      uint64_t seq = ref_.last_seq() + 1;
      ReferenceDisk::W w{seq, (seq * 7 % 16) * 4096, RecordKind::kData, PatternBytes(3, seq, 4096), 4096};
      ref_.Apply(w);
      ASSERT_TRUE(disk_->Append(testing::ToRecord(w, clock_.NowUnixNanos())).ok());
      if (seq % 5 == 0) {
        ASSERT_TRUE(disk_->Sync().ok());
        ASSERT_TRUE(disk_->AddPoint({.seq = seq}).ok());
      }
      clock_.Advance(kMinute);
    }
    ASSERT_TRUE(disk_->Sync().ok());
  }
  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<DiskReplica> disk_;
  ReferenceDisk ref_{kDisk};
};

TEST_F(PinsTest, RetentionStopsAtThePinAndKeepsItsViewAcrossAReopen) {
  Churn(30);
  const uint64_t pinned = 10;  // a point (every 5th seq is one)
  ASSERT_TRUE(disk_->Pin("export/drill-web1-d1", pinned).ok());
  Churn(5 * 60);  // five hours later: the pinned seq is far outside the 1 h window
  auto report = disk_->ApplyRetention(clock_.NowUnixNanos());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->held_by_pin_seq, pinned);
  EXPECT_EQ(disk_->folded_seq(), pinned);
  EXPECT_GT(report->records_folded, 0u);
  EXPECT_GT(report->records_compacted, 0u);  // compaction ran, around the pin
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, pinned), ref_.StateAt(pinned)));
  bool point_kept = false;
  for (const auto& p : disk_->Points()) point_kept |= p.seq == pinned;
  EXPECT_TRUE(point_kept) << "the pinned point was thinned away";

  // Reopen (as after a crash): the pin is still there, retention still respects it.
  Open(false);
  EXPECT_EQ(disk_->Pins().at("export/drill-web1-d1"), pinned);
  Churn(60);
  ASSERT_TRUE(disk_->ApplyRetention(clock_.NowUnixNanos()).ok());
  EXPECT_EQ(disk_->folded_seq(), pinned);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, pinned), ref_.StateAt(pinned)));
  auto scrub = disk_->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok());

  // Unpinned, the next retention folds to the window again.
  ASSERT_TRUE(disk_->Unpin("export/drill-web1-d1").ok());
  auto after = disk_->ApplyRetention(clock_.NowUnixNanos());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->held_by_pin_seq, 0u);
  EXPECT_GT(disk_->folded_seq(), pinned);
  for (const auto& p : disk_->Points())
    EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, p.seq), ref_.StateAt(p.seq))) << "point " << p.id;
  Open(false);
  EXPECT_TRUE(disk_->Pins().empty());
}

TEST_F(PinsTest, ExplicitFoldStopsAtTheOldestPin) {
  Churn(40);
  ASSERT_TRUE(disk_->Pin("a", 20).ok());
  ASSERT_TRUE(disk_->Pin("b", 12).ok());
  auto r = disk_->FoldTo(35);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(disk_->folded_seq(), 12u);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, 12), ref_.StateAt(12)));
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, 20), ref_.StateAt(20)));
  ASSERT_TRUE(disk_->Pin("b", 30).ok());  // moving a pin forward releases the old seq
  ASSERT_TRUE(disk_->FoldTo(35).ok());
  EXPECT_EQ(disk_->folded_seq(), 20u);
}

TEST_F(PinsTest, RefusesUnreadableSeqsAndBadNames) {
  Churn(10);
  ASSERT_TRUE(disk_->FoldTo(5).ok());
  EXPECT_EQ(disk_->Pin("x", 4).code(), Code::kNotFound);   // folded away
  EXPECT_EQ(disk_->Pin("x", 11).code(), Code::kNotFound);  // not durable yet
  EXPECT_EQ(disk_->Pin("", 6).code(), Code::kInvalidArgument);
  EXPECT_EQ(disk_->Pin("a b", 6).code(), Code::kInvalidArgument);
  EXPECT_EQ(disk_->Pin("a\nb", 6).code(), Code::kInvalidArgument);
  EXPECT_TRUE(disk_->Pins().empty());
  EXPECT_TRUE(disk_->Unpin("never-pinned").ok());
}

TEST_F(PinsTest, ACorruptPinsFileRefusesTheOpen) {
  ASSERT_TRUE(disk_->Pin("p", 0).ok());
  disk_.reset();
  {
    std::ofstream f(dir_ + "/d/PINS", std::ios::trunc);
    f << "lifeline-pins 1\nnot-a-seq p\n";
  }
  auto r = DiskReplica::Open(dir_ + "/d", {nullptr, &clock_});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

TEST(PinsCodec, RoundTripsAndRefusesMalformedText) {
  PinMap pins{{"export/drill-web1-disk0", 42}, {"b", 0}};
  auto back = DecodePins(EncodePins(pins));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, pins);
  EXPECT_TRUE(DecodePins("lifeline-pins 1\n").ok());
  for (const char* bad : {"", "lifeline-pins 2\n", "lifeline-pins 1\n12 a", "lifeline-pins 1\n12\n",
                          "lifeline-pins 1\n 12 a\n", "lifeline-pins 1\nx a\n", "lifeline-pins 1\n1 a b\n",
                          "lifeline-pins 1\n1 a\n2 a\n", "lifeline-pins 1\n99999999999999999999999 a\n",
                          "lifeline-pins 1\n-1 a\n"}) {
    auto r = DecodePins(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorruption);
    }
  }
}

}  // namespace
}  // namespace lifeline::store
