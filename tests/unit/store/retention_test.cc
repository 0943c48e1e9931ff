#include <gtest/gtest.h>

#include "store/disk_replica.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

using testing::PatternBytes;
using testing::ReadAll;
using testing::ReferenceDisk;
using testing::TempDir;

constexpr uint64_t kDisk = 1 << 20;
constexpr int64_t kMinute = 60 * kNanosPerSecond;

// Writes `count` 4 KiB blocks into a small working set, one a minute, with a crash point
// every 5 minutes; returns the reference history.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("retention");
    RetentionPolicy policy{.window_seconds = 6 * 3600, .keep_all_seconds = 2 * 3600, .keep_one_per_seconds = 3600};
    disk_ = std::move(DiskReplica::Create(dir_ + "/d", "d1", kDisk, policy,
                                          {nullptr, &clock_, /*segment_target_bytes=*/256 * 1024}))
                .value();
  }
  void TearDown() override {
    disk_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Churn(uint64_t minutes, uint64_t working_set_blocks) {
    for (uint64_t i = 0; i < minutes; ++i) {
      uint64_t seq = ref_.last_seq() + 1;
      ReferenceDisk::W w{seq, (seq * 7 % working_set_blocks) * 4096, RecordKind::kData,
                         PatternBytes(11, seq, 4096), 4096};
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
  void ExpectEveryPointExact() {
    for (const auto& p : disk_->Points()) EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, p.seq), ref_.StateAt(p.seq))) << "point " << p.id;
  }
  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<DiskReplica> disk_;
  ReferenceDisk ref_{kDisk};
};

TEST_F(RetentionTest, FoldKeepsEveryPointInsideTheWindowExact) {
  Churn(10 * 60, 64);  // 10 hours of writes
  auto report = disk_->ApplyRetention(clock_.NowUnixNanos());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->records_folded, 0u);
  EXPECT_GT(report->points_expired, 0u);
  int64_t window_start = clock_.NowUnixNanos() - 6 * 3600 * kNanosPerSecond;
  for (const auto& p : disk_->Points()) EXPECT_GE(p.time_unix_ns, window_start);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, disk_->folded_seq()), ref_.StateAt(disk_->folded_seq())));
  ExpectEveryPointExact();
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, disk_->durable_seq()), ref_.StateAt(disk_->durable_seq())));
  // Older than the window: a clear NotFound.
  std::string buf(16, '\0');
  EXPECT_EQ(disk_->ReadAt(1, 0, buf.data(), buf.size()).code(), Code::kNotFound);
}

TEST_F(RetentionTest, ThinningKeepsOnePerHourAndCompactionFollowsUniqueBlocks) {
  Churn(6 * 60 - 5, 16);  // just under the window: nothing folds
  uint64_t records_before = disk_->Info().journal_records;
  uint64_t bytes_before = disk_->Info().journal_bytes;
  auto report = disk_->ApplyRetention(clock_.NowUnixNanos());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->records_folded, 0u);
  EXPECT_GT(report->points_thinned, 0u);
  EXPECT_GT(report->records_compacted, 0u);
  // All points of the last 2 h remain; older ones: at most one per hour.
  int64_t keep_all_from = clock_.NowUnixNanos() - 2 * 3600 * kNanosPerSecond;
  std::map<int64_t, int> per_hour;
  for (const auto& p : disk_->Points())
    if (p.time_unix_ns < keep_all_from) ++per_hour[p.time_unix_ns / (3600 * kNanosPerSecond)];
  for (auto [hour, n] : per_hour) EXPECT_EQ(n, 1) << "hour " << hour;
  ExpectEveryPointExact();
  // Every seq of the keep-all span is still a point in time.
  for (uint64_t s = disk_->durable_seq() - 100; s <= disk_->durable_seq(); s += 7)
    EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, s), ref_.StateAt(s))) << "seq " << s;
  auto info = disk_->Info();
  EXPECT_LT(info.journal_records, records_before);
  EXPECT_LT(info.journal_bytes, bytes_before);
  // Space follows unique blocks per kept interval: at most 16 blocks per hourly span.
  uint64_t old_spans = per_hour.size() + 1;
  EXPECT_LE(info.journal_records, old_spans * 16 + 2 * 60 + 5);
  // Idempotent: a second run finds nothing more to do, and reopen sees the same state.
  auto again = disk_->ApplyRetention(clock_.NowUnixNanos());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->records_compacted, 0u);
  EXPECT_EQ(again->points_thinned, 0u);
  disk_.reset();
  disk_ = std::move(DiskReplica::Open(dir_ + "/d", {nullptr, &clock_})).value();
  ExpectEveryPointExact();
}

TEST_F(RetentionTest, UserPointsAreNotThinned) {
  Churn(30, 8);
  auto user = disk_->AddPoint({.seq = 12, .kind = PointKind::kUser, .label = "before patch"});
  ASSERT_TRUE(user.ok());
  clock_.Advance(4 * 3600 * kNanosPerSecond);
  ASSERT_TRUE(disk_->ApplyRetention(clock_.NowUnixNanos()).ok());
  ASSERT_TRUE(disk_->FindPoint(user->id).ok());
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, 12), ref_.StateAt(12)));
}

}  // namespace
}  // namespace lifeline::store
