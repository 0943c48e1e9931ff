// Crash recovery and damage: torn tails, corruption in the middle, scrub, fault injection.
#include <gtest/gtest.h>

#include "common/fault_fs.h"
#include "store/disk_replica.h"
#include "store/segment.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

using testing::PatternBytes;
using testing::ReadAll;
using testing::TempDir;

constexpr uint64_t kDisk = 1 << 20;

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir("recovery"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string DiskDir() { return dir_ + "/d"; }
  std::unique_ptr<DiskReplica> Create(FileSystem* fs = nullptr) {
    return std::move(DiskReplica::Create(DiskDir(), "d1", kDisk, {}, {fs, &clock_})).value();
  }
  void Write(DiskReplica* d, uint64_t seq) {
    WriteRecord r;
    std::string data = PatternBytes(21, seq, 4096);
    r.seq = seq;
    r.offset = (seq % 32) * 4096;
    r.length = 4096;
    r.payload = data;
    ASSERT_TRUE(d->Append(r).ok());
  }
  std::string SegmentPath() {
    for (auto& e : std::filesystem::directory_iterator(DiskDir()))
      if (e.path().filename().string().starts_with("journal-")) return e.path().string();
    return "";
  }
  void Corrupt(const std::string& path, uint64_t offset) {
    auto f = std::move(FileSystem::Posix()->Open(path, OpenMode::kReadWrite)).value();
    char c;
    ASSERT_EQ(*f->ReadAt(offset, &c, 1), 1u);
    c ^= 0x40;
    ASSERT_TRUE(f->WriteAt(offset, &c, 1).ok());
  }
  ManualClock clock_;
  std::string dir_;
};

TEST_F(RecoveryTest, TornTailIsTruncatedAndDurableDataKept) {
  auto d = Create();
  for (uint64_t s = 1; s <= 10; ++s) Write(d.get(), s);
  ASSERT_EQ(*d->Sync(), 10u);
  std::string at10 = ReadAll(*d, 10);
  d.reset();
  // A torn append: half a record header after the last good record.
  std::string seg = SegmentPath();
  {
    auto f = std::move(FileSystem::Posix()->Open(seg, OpenMode::kReadWrite)).value();
    uint64_t size = *f->Size();
    std::string junk = "LLRC\x01\x01\x00\x00garbage";
    ASSERT_TRUE(f->WriteAt(size, junk.data(), junk.size()).ok());
  }
  uint64_t torn_size = std::filesystem::file_size(seg);
  auto reopened = DiskReplica::Open(DiskDir(), {nullptr, &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  d = std::move(reopened).value();
  EXPECT_TRUE(d->read_only_reason().empty()) << d->read_only_reason();
  EXPECT_EQ(d->durable_seq(), 10u);
  EXPECT_LT(std::filesystem::file_size(seg), torn_size);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*d, 10), at10));
  Write(d.get(), 11);  // appends continue after the truncated tail
  ASSERT_EQ(*d->Sync(), 11u);
}

TEST_F(RecoveryTest, CorruptionInTheMiddleOpensReadOnlyNamingFileAndOffset) {
  auto d = Create();
  for (uint64_t s = 1; s <= 10; ++s) Write(d.get(), s);
  ASSERT_TRUE(d->Sync().ok());
  d.reset();
  std::string seg = SegmentPath();
  // The 3rd record's header: segment header (64) + 2 * (64 + 4096) + 10.
  uint64_t offset = kSegmentHeaderSize + 2 * (kRecordHeaderSize + 4096);
  Corrupt(seg, offset + 10);
  auto reopened = DiskReplica::Open(DiskDir(), {nullptr, &clock_});
  ASSERT_TRUE(reopened.ok());
  d = std::move(reopened).value();
  std::string why = d->read_only_reason();
  EXPECT_NE(why.find(seg), std::string::npos) << why;
  EXPECT_NE(why.find("offset " + std::to_string(offset)), std::string::npos) << why;
  WriteRecord r;
  r.seq = 11;
  EXPECT_EQ(d->Append(r).code(), Code::kFailedPrecondition);
  // The segment was not truncated: durable records behind the damage are not thrown away.
  EXPECT_EQ(std::filesystem::file_size(seg), kSegmentHeaderSize + 10 * (kRecordHeaderSize + 4096));
}

TEST_F(RecoveryTest, ScrubFindsPayloadCorruptionAndNamesAffectedPoints) {
  auto d = Create();
  for (uint64_t s = 1; s <= 10; ++s) {
    Write(d.get(), s);
    ASSERT_TRUE(d->Sync().ok());
    ASSERT_TRUE(d->AddPoint({.seq = s}).ok());
  }
  auto clean = d->Scrub();
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->ok());
  EXPECT_EQ(clean->records_checked, 10u);
  // Flip a payload byte of record 6 behind the store's back.
  uint64_t rec6 = kSegmentHeaderSize + 5 * (kRecordHeaderSize + 4096);
  Corrupt(SegmentPath(), rec6 + kRecordHeaderSize + 100);
  auto report = d->Scrub();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].seq, 6u);
  EXPECT_EQ(report->problems[0].offset, rec6);
  EXPECT_EQ(report->affected_point_ids.size(), 5u);  // points at seq 6..10
  EXPECT_FALSE(d->read_only_reason().empty());
  // Reading the damaged record verifies its checksum: an error, never wrong bytes.
  std::string buf(4096, '\0');
  EXPECT_EQ(d->ReadAt(6, (6 % 32) * 4096, buf.data(), buf.size()).code(), Code::kCorruption);
  d.reset();
  // The marker keeps it read-only across a reopen.
  d = std::move(DiskReplica::Open(DiskDir(), {nullptr, &clock_})).value();
  EXPECT_NE(d->read_only_reason().find("scrub"), std::string::npos);
  Corrupt(SegmentPath(), rec6 + kRecordHeaderSize + 100);  // repaired (flip back)
  auto again = d->Scrub();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->ok());
  // A clean scrub removes the marker; the next open is writable again.
  d.reset();
  d = std::move(DiskReplica::Open(DiskDir(), {nullptr, &clock_})).value();
  EXPECT_TRUE(d->read_only_reason().empty()) << d->read_only_reason();
  Write(d.get(), 11);
  EXPECT_EQ(*d->Sync(), 11u);
}

TEST_F(RecoveryTest, PowerCutLosesOnlyWhatWasNotSynced) {
  FaultInjectionFs fs(FileSystem::Posix());
  auto d = Create(&fs);
  for (uint64_t s = 1; s <= 20; ++s) Write(d.get(), s);
  ASSERT_EQ(*d->Sync(), 20u);
  ASSERT_TRUE(d->AddPoint({.seq = 20}).ok());
  std::string at20 = ReadAll(*d, 20);
  for (uint64_t s = 21; s <= 30; ++s) Write(d.get(), s);  // never synced
  d.reset();
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  auto reopened = DiskReplica::Open(DiskDir(), {&fs, &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  d = std::move(reopened).value();
  EXPECT_EQ(d->durable_seq(), 20u);
  EXPECT_EQ(d->Points().size(), 1u);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*d, 20), at20));
}

TEST_F(RecoveryTest, DiskFullIsAnErrorAndTheReplicaKeepsWorking) {
  FaultInjectionFs fs(FileSystem::Posix());
  auto d = Create(&fs);
  for (uint64_t s = 1; s <= 5; ++s) Write(d.get(), s);
  ASSERT_TRUE(d->Sync().ok());
  fs.SetWriteBudget(1000);
  WriteRecord r;
  std::string data = PatternBytes(21, 6, 4096);
  r.seq = 6;
  r.length = 4096;
  r.payload = data;
  EXPECT_EQ(d->Append(r).code(), Code::kNoSpace);
  EXPECT_EQ(d->appended_seq(), 5u);
  fs.SetWriteBudget(-1);  // space returns
  ASSERT_TRUE(d->Append(r).ok());
  ASSERT_EQ(*d->Sync(), 6u);
  d.reset();
  d = std::move(DiskReplica::Open(DiskDir(), {&fs, &clock_})).value();
  EXPECT_EQ(d->durable_seq(), 6u);
  EXPECT_TRUE(d->read_only_reason().empty());
}

TEST_F(RecoveryTest, FailedFsyncMakesTheReplicaReadOnly) {
  FaultInjectionFs fs(FileSystem::Posix());
  auto d = Create(&fs);
  Write(d.get(), 1);
  fs.SetFailSync(true);
  EXPECT_EQ(d->Sync().status().code(), Code::kIOError);
  EXPECT_EQ(d->durable_seq(), 0u);  // never claimed
  fs.SetFailSync(false);
  EXPECT_EQ(d->Sync().status().code(), Code::kFailedPrecondition);
}

TEST_F(RecoveryTest, InterruptedFoldIsFinishedOnOpen) {
  FaultInjectionFs fs(FileSystem::Posix());
  auto d = Create(&fs);
  for (uint64_t s = 1; s <= 40; ++s) Write(d.get(), s);
  ASSERT_TRUE(d->Sync().ok());
  ASSERT_TRUE(d->AddPoint({.seq = 30}).ok());
  std::string at30 = ReadAll(*d, 30), at40 = ReadAll(*d, 40);
  // Simulate a crash after the fold's intent was written and part of the base changed.
  Manifest m = *ReadManifest(&fs, DiskDir());
  m.fold_target_seq = 25;
  ASSERT_TRUE(WriteManifest(&fs, DiskDir(), m).ok());
  {
    auto base = std::move(fs.Open(DiskDir() + "/base.img", OpenMode::kReadWrite)).value();
    std::string junk(4096, 'J');  // a half-applied fold: partly written base
    ASSERT_TRUE(base->WriteAt(4096, junk.data(), junk.size()).ok());  // a range seq 1 folds
    ASSERT_TRUE(base->Sync().ok());
  }
  d.reset();
  d = std::move(DiskReplica::Open(DiskDir(), {&fs, &clock_})).value();
  EXPECT_EQ(d->folded_seq(), 25u);
  EXPECT_TRUE(testing::SameBytes(ReadAll(*d, 30), at30));
  EXPECT_TRUE(testing::SameBytes(ReadAll(*d, 40), at40));
}

TEST_F(RecoveryTest, ManifestFromANewerVersionIsAClearError) {
  auto d = Create();
  d.reset();
  std::string path = DiskDir() + "/MANIFEST";
  auto f = std::move(FileSystem::Posix()->Open(path, OpenMode::kReadWrite)).value();
  uint8_t v = 7;
  ASSERT_TRUE(f->WriteAt(4, &v, 1).ok());
  auto opened = DiskReplica::Open(DiskDir());
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("newer lifeline"), std::string::npos);
  EXPECT_NE(opened.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace lifeline::store
