#include "store/disk_replica.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/codec.h"
#include "store/replica_store.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

using testing::PatternBytes;
using testing::ReadAll;
using testing::TempDir;

constexpr uint64_t kDisk = 1 << 20;

class DiskReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("replica");
    auto d = DiskReplica::Create(dir_ + "/d", "d1", kDisk, {}, {nullptr, &clock_});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    disk_ = std::move(d).value();
  }
  void TearDown() override {
    disk_.reset();
    std::filesystem::remove_all(dir_);
  }
  Status Write(uint64_t seq, uint64_t offset, const std::string& data) {
    WriteRecord r;
    r.seq = seq;
    r.offset = offset;
    r.length = uint32_t(data.size());
    r.payload = data;
    r.time_unix_ns = clock_.NowUnixNanos();
    clock_.Advance(kNanosPerSecond);
    return disk_->Append(r);
  }
  Status Zero(uint64_t seq, uint64_t offset, uint32_t len, RecordKind kind = RecordKind::kZero) {
    WriteRecord r;
    r.seq = seq;
    r.offset = offset;
    r.length = len;
    r.kind = kind;
    r.time_unix_ns = clock_.NowUnixNanos();
    clock_.Advance(kNanosPerSecond);
    return disk_->Append(r);
  }
  std::string Read(uint64_t seq, uint64_t off, size_t n) {
    std::string out(n, '\0');
    Status s = disk_->ReadAt(seq, off, out.data(), n);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<DiskReplica> disk_;
};

TEST_F(DiskReplicaTest, EmptyDiskReadsZeros) {
  EXPECT_EQ(disk_->durable_seq(), 0u);
  EXPECT_EQ(Read(0, 0, 4096), std::string(4096, '\0'));
}

TEST_F(DiskReplicaTest, NewestRecordAtOrBelowSeqWins) {
  std::string a = PatternBytes(1, 1, 8192), b = PatternBytes(1, 2, 4096);
  ASSERT_TRUE(Write(1, 0, a).ok());
  ASSERT_TRUE(Write(2, 2048, b).ok());  // overlaps the middle of a
  ASSERT_TRUE(Zero(3, 1024, 512).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  EXPECT_EQ(disk_->durable_seq(), 3u);

  EXPECT_EQ(Read(1, 0, 8192), a);
  std::string at2 = a;
  at2.replace(2048, 4096, b);
  EXPECT_EQ(Read(2, 0, 8192), at2);
  std::string at3 = at2;
  at3.replace(1024, 512, std::string(512, '\0'));
  EXPECT_EQ(Read(3, 0, 8192), at3);
  EXPECT_EQ(Read(0, 0, 8192), std::string(8192, '\0'));
  // Reads spanning index chunks and unaligned ranges.
  EXPECT_EQ(Read(3, 1000, 5000), at3.substr(1000, 5000));
}

TEST_F(DiskReplicaTest, WritesSpanningChunksAndCompressedPayloads) {
  std::string big(200000, 'q');
  for (size_t i = 0; i < big.size(); i += 333) big[i] = char(i);
  std::string compressed;
  ASSERT_TRUE(Compress(Codec::kZstd, big, &compressed));
  WriteRecord r;
  r.seq = 1;
  r.offset = 60000;
  r.length = uint32_t(big.size());
  r.codec = Codec::kZstd;
  r.payload = compressed;
  ASSERT_TRUE(disk_->Append(r).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  EXPECT_EQ(Read(1, 60000, big.size()), big);
  EXPECT_EQ(Read(1, 100000, 10), big.substr(40000, 10));
  // A compressed payload that does not decode to its length is refused before storing.
  r.seq = 2;
  r.length = uint32_t(big.size() - 1);
  EXPECT_EQ(disk_->Append(r).code(), Code::kCorruption);
  EXPECT_EQ(disk_->appended_seq(), 1u);
}

TEST_F(DiskReplicaTest, GrowsWithItsSourceDiskAndNeverShrinks) {
  std::string a = PatternBytes(3, 1, 4096);
  ASSERT_TRUE(Write(1, kDisk - 4096, a).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  // Beyond the old end: refused until the replica grows.
  EXPECT_EQ(Write(2, kDisk, a).code(), Code::kInvalidArgument);
  ASSERT_TRUE(disk_->Grow(2 * kDisk).ok());
  EXPECT_EQ(disk_->size_bytes(), 2 * kDisk);
  ASSERT_TRUE(Write(2, kDisk, a).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  EXPECT_EQ(Read(2, kDisk - 4096, 8192), a + a);
  // An older point reads the new range as zeros.
  EXPECT_EQ(Read(1, kDisk - 4096, 8192), a + std::string(4096, '\0'));
  // Shrinking, odd sizes and the same size.
  Status shrink = disk_->Grow(kDisk);
  EXPECT_EQ(shrink.code(), Code::kFailedPrecondition);
  EXPECT_NE(shrink.message().find("never shrinks"), std::string::npos) << shrink.ToString();
  EXPECT_EQ(disk_->Grow(2 * kDisk + 100).code(), Code::kInvalidArgument);
  EXPECT_TRUE(disk_->Grow(2 * kDisk).ok());
  // The new size survives a reopen, with the data.
  disk_.reset();
  auto reopened = DiskReplica::Open(dir_ + "/d", {nullptr, &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  disk_ = std::move(reopened).value();
  EXPECT_EQ(disk_->size_bytes(), 2 * kDisk);
  EXPECT_EQ(Read(2, kDisk, 4096), a);
  std::string image = dir_ + "/grown.img";
  ASSERT_TRUE(disk_->Materialize(2, image).ok());
  struct stat st;
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), 2 * kDisk);
}

TEST_F(DiskReplicaTest, ReplayIsIdempotentAndGapsAreRefused) {
  std::string a = PatternBytes(2, 1, 4096);
  ASSERT_TRUE(Write(1, 0, a).ok());
  ASSERT_TRUE(Write(2, 4096, a).ok());
  ASSERT_TRUE(Write(1, 0, PatternBytes(9, 9, 4096)).ok());  // replay: no-op
  EXPECT_EQ(disk_->appended_seq(), 2u);
  Status gap = Write(4, 0, a);
  EXPECT_EQ(gap.code(), Code::kInvalidArgument);
  EXPECT_NE(gap.message().find("next seq is 3"), std::string::npos) << gap.message();
  ASSERT_TRUE(disk_->Sync().ok());
  EXPECT_EQ(Read(2, 0, 4096), a);
}

TEST_F(DiskReplicaTest, BadInputGetsClearErrors) {
  EXPECT_EQ(Write(1, kDisk - 100, std::string(4096, 'x')).code(), Code::kInvalidArgument);
  std::string out(10, '\0');
  Status s = disk_->ReadAt(0, kDisk - 5, out.data(), 10);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("outside"), std::string::npos);
  EXPECT_EQ(disk_->ReadAt(5, 0, out.data(), 10).code(), Code::kNotFound);  // not durable
  WriteRecord r;
  r.seq = 1;
  r.length = 10;
  r.payload = "short";
  EXPECT_EQ(disk_->Append(r).code(), Code::kInvalidArgument);
  r.length = 0;
  EXPECT_EQ(disk_->Append(r).code(), Code::kInvalidArgument);
  EXPECT_FALSE(DiskReplica::Create(dir_ + "/x", "bad/id", kDisk, {}).ok());
  EXPECT_FALSE(DiskReplica::Create(dir_ + "/y", "ok", 1000, {}).ok());
  EXPECT_EQ(DiskReplica::Open(dir_ + "/nothing").status().code(), Code::kNotFound);
}

TEST_F(DiskReplicaTest, SecondOpenOfALiveReplicaIsBusy) {
  auto again = DiskReplica::Open(dir_ + "/d");
  EXPECT_EQ(again.status().code(), Code::kBusy);
}

TEST_F(DiskReplicaTest, PointsListLookupAndTags) {
  ASSERT_TRUE(Write(1, 0, PatternBytes(3, 1, 4096)).ok());
  int64_t t2 = clock_.NowUnixNanos();
  ASSERT_TRUE(Write(2, 0, PatternBytes(3, 2, 4096)).ok());
  ASSERT_TRUE(Write(3, 0, PatternBytes(3, 3, 4096)).ok());
  EXPECT_FALSE(disk_->AddPoint({.seq = 3}).ok());  // not durable yet
  ASSERT_TRUE(disk_->Sync().ok());
  auto p1 = disk_->AddPoint({.seq = 1, .kind = PointKind::kCrash});
  auto p3 = disk_->AddPoint({.seq = 0, .kind = PointKind::kApp, .label = "after app flush"});
  ASSERT_TRUE(p1.ok() && p3.ok());
  EXPECT_EQ(p3->seq, 3u);
  EXPECT_EQ(disk_->Points().size(), 2u);
  // Lookup by time: the newest listed point at or before it, and any seq at or before it.
  auto at = disk_->PointAtOrBefore(t2);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->id, p1->id);
  EXPECT_EQ(*disk_->SeqAtOrBefore(t2), 2u);
  EXPECT_EQ(disk_->PointAtOrBefore(clock_.NowUnixNanos(), PointKind::kApp)->id, p3->id);
  EXPECT_FALSE(disk_->PointAtOrBefore(t2, PointKind::kApp).ok());
  ASSERT_TRUE(disk_->TagPoint(p1->id, "tested at 2026-11-23T10:00:00Z").ok());
  EXPECT_EQ(disk_->FindPoint(p1->id)->tags.size(), 1u);
  EXPECT_EQ(disk_->TagPoint(99, "x").code(), Code::kNotFound);
  // Points survive a reopen.
  disk_.reset();
  disk_ = std::move(DiskReplica::Open(dir_ + "/d", {nullptr, &clock_})).value();
  EXPECT_EQ(disk_->Points().size(), 2u);
  EXPECT_EQ(disk_->FindPoint(p3->id)->label, "after app flush");
  EXPECT_EQ(Read(p1->seq, 0, 4096), PatternBytes(3, 1, 4096));
}

TEST_F(DiskReplicaTest, MaterializeIsByteExactAndSparse) {
  std::string a = PatternBytes(4, 1, 65536);
  ASSERT_TRUE(Write(1, 0, a).ok());
  ASSERT_TRUE(Write(2, 512 * 1024, a).ok());
  ASSERT_TRUE(Zero(3, 0, 4096, RecordKind::kTrim).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  std::string target = dir_ + "/out.img";
  uint64_t last_progress = 0;
  ASSERT_TRUE(disk_->Materialize(3, target, [&](uint64_t done, uint64_t) { last_progress = done; }).ok());
  EXPECT_EQ(last_progress, kDisk);
  auto bytes = ReadWholeFile(FileSystem::Posix(), target, 1 << 21);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(testing::SameBytes(*bytes, ReadAll(*disk_, 3)));
  struct stat st;
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, kDisk / 2) << "holes must stay holes";
  // A fold puts data in the base; materializing then copies base extents.
  ASSERT_TRUE(disk_->FoldTo(2).ok());
  ASSERT_TRUE(disk_->Materialize(3, target).ok());
  EXPECT_TRUE(testing::SameBytes(*ReadWholeFile(FileSystem::Posix(), target, 1 << 21), ReadAll(*disk_, 3)));
}

TEST_F(DiskReplicaTest, MaterializeBatchesConsecutiveRecordsKeepsZerosAsHolesAndChecksEveryPayload) {
  // 12 records written one after another on the disk and in the segment (one batch), two
  // of them raw data that is all zeros.
  constexpr uint64_t kRec = 65536;
  for (uint64_t s = 1; s <= 12; ++s) {
    std::string data = (s == 4 || s == 5) ? std::string(kRec, '\0') : PatternBytes(8, s, kRec);
    ASSERT_TRUE(Write(s, (s - 1) * kRec, data).ok());
  }
  ASSERT_TRUE(disk_->Sync().ok());
  std::string target = dir_ + "/out.img";
  ASSERT_TRUE(disk_->Materialize(12, target).ok());
  auto bytes = ReadWholeFile(FileSystem::Posix(), target, 1 << 21);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(testing::SameBytes(*bytes, ReadAll(*disk_, 12)));
  EXPECT_EQ(bytes->substr(3 * kRec, 2 * kRec), std::string(2 * kRec, '\0'));
  struct stat st;
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_LE(uint64_t(st.st_blocks) * 512, 10 * kRec + 4096) << "zero records must become holes";
  EXPECT_GE(uint64_t(st.st_blocks) * 512, 10 * kRec) << "data records must be written";

  // A flipped byte in the payload of the 7th record, in the middle of the batch, is found.
  std::string seg = dir_ + "/d/journal-00000001.seg";
  uint64_t payload7 = kSegmentHeaderSize + 6 * (kRecordHeaderSize + kRec) + kRecordHeaderSize;
  {
    auto f = FileSystem::Posix()->Open(seg, OpenMode::kReadWrite);
    ASSERT_TRUE(f.ok());
    char c;
    ASSERT_EQ(*(*f)->ReadAt(payload7 + 100, &c, 1), 1u);
    c = char(c ^ 0x20);
    ASSERT_TRUE((*f)->WriteAt(payload7 + 100, &c, 1).ok());
  }
  Status s = disk_->Materialize(12, target);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("seq 7"), std::string::npos) << s.message();
}

TEST_F(DiskReplicaTest, BlockHashesMatchContent) {
  std::string a = PatternBytes(5, 1, 65536);
  ASSERT_TRUE(Write(1, 65536, a).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  auto h = disk_->BlockHashes(1, 65536, 0, 3);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0], Xxh3(std::string(65536, '\0')));
  EXPECT_EQ((*h)[1], Xxh3(a));
}

TEST_F(DiskReplicaTest, SegmentsRollAndReadAcrossThem) {
  disk_.reset();
  DiskOptions opts{nullptr, &clock_, /*segment_target_bytes=*/100000};
  disk_ = std::move(DiskReplica::Open(dir_ + "/d", opts)).value();
  for (uint64_t s = 1; s <= 40; ++s) ASSERT_TRUE(Write(s, (s % 16) * 4096, PatternBytes(6, s, 4096 * 2)).ok());
  ASSERT_TRUE(disk_->Sync().ok());
  EXPECT_GT(disk_->Info().segments, 2u);
  std::string before = ReadAll(*disk_, 40);
  std::string mid = ReadAll(*disk_, 17);
  disk_.reset();
  disk_ = std::move(DiskReplica::Open(dir_ + "/d", opts)).value();
  EXPECT_EQ(disk_->durable_seq(), 40u);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, 40), before));
  EXPECT_TRUE(testing::SameBytes(ReadAll(*disk_, 17), mid));
}

TEST(ReplicaStore, GroupPointsAreCompleteOnlyOnEveryMember) {
  std::string root = TempDir("store");
  auto store = std::move(ReplicaStore::Open(root)).value();
  for (const char* id : {"web-os", "db-os", "db-data"}) ASSERT_TRUE(store->CreateDisk(id, kDisk).ok());
  std::map<std::string, uint64_t> seqs;
  for (const char* id : {"web-os", "db-os", "db-data"}) {
    DiskReplica* d = *store->Disk(id);
    WriteRecord r;
    r.seq = 1;
    std::string data = PatternBytes(7, 1, 4096);
    r.length = 4096;
    r.payload = data;
    ASSERT_TRUE(d->Append(r).ok());
    ASSERT_TRUE(d->Sync().ok());
    seqs[id] = 1;
  }
  auto gp = store->AddGroupPoint("app-tier", "nightly", seqs, 1000);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  EXPECT_EQ(gp->members.size(), 3u);
  // A partial group point (as after a crash mid-way) is not listed.
  PointRequest partial{.seq = 1, .kind = PointKind::kGroup, .group_id = "app-tier", .group_point_id = 77,
                       .group_members = {"web-os", "db-os"}};
  ASSERT_TRUE((*store->Disk("web-os"))->AddPoint(partial).ok());
  auto list = store->GroupPoints("app-tier");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().label, "nightly");
  EXPECT_EQ(*store->DiskIds(), (std::vector<std::string>{"db-data", "db-os", "web-os"}));
  EXPECT_EQ(store->Disk("nope").status().code(), Code::kNotFound);
  EXPECT_FALSE(store->AddGroupPoint("g", "", {{"nope", 1}}, 0).ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace lifeline::store
