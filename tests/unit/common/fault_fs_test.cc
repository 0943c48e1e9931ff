#include "common/fault_fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace lifeline {
namespace {

class FaultFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ll-faultfs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string P(const std::string& n) { return (dir_ / n).string(); }
  std::string Read(const std::string& n) {
    auto r = ReadWholeFile(FileSystem::Posix(), P(n), 1 << 20);
    return r.ok() ? *r : "<missing>";
  }
  std::filesystem::path dir_;
  FaultInjectionFs fs_{FileSystem::Posix()};
};

TEST_F(FaultFsTest, DropsUnsyncedWritesKeepsSynced) {
  auto f = *fs_.Open(P("a"), OpenMode::kCreate);
  ASSERT_TRUE(f->WriteAt(0, "hello", 5).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(fs_.SyncDir(dir_.string()).ok());
  ASSERT_TRUE(f->WriteAt(5, " world", 6).ok());
  ASSERT_TRUE(f->WriteAt(0, "J", 1).ok());
  EXPECT_EQ(Read("a"), "Jello world");
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("a"), "hello");
  // The old handle is dead after the simulated crash.
  EXPECT_EQ(f->WriteAt(0, "x", 1).code(), Code::kIOError);
}

TEST_F(FaultFsTest, UnsyncedCreateRemoveAndRenameAreUndone) {
  {
    auto f = *fs_.Open(P("kept"), OpenMode::kCreate);
    ASSERT_TRUE(f->WriteAt(0, "v1", 2).ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  ASSERT_TRUE(fs_.SyncDir(dir_.string()).ok());
  ASSERT_TRUE(WriteFileAtomic(&fs_, P("kept2"), "v2").ok());  // fully durable
  {
    auto f = *fs_.Open(P("new"), OpenMode::kCreate);
    ASSERT_TRUE(f->WriteAt(0, "n", 1).ok());
    ASSERT_TRUE(f->Sync().ok());  // file synced, directory not
  }
  ASSERT_TRUE(fs_.Remove(P("kept")).ok());
  EXPECT_FALSE(fs_.Exists(P("kept")));
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("kept"), "v1");
  EXPECT_EQ(Read("new"), "<missing>");
  EXPECT_EQ(Read("kept2"), "v2");
  auto names = *fs_.List(dir_.string());
  EXPECT_EQ(names.size(), 2u);
}

TEST_F(FaultFsTest, RenameOverExistingIsRevertedUntilDirSync) {
  ASSERT_TRUE(WriteFileAtomic(&fs_, P("m"), "old").ok());
  {
    auto f = *fs_.Open(P("m.tmp"), OpenMode::kTruncate);
    ASSERT_TRUE(f->WriteAt(0, "new", 3).ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  ASSERT_TRUE(fs_.Rename(P("m.tmp"), P("m")).ok());
  EXPECT_EQ(Read("m"), "new");
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("m"), "old");
}

TEST_F(FaultFsTest, WriteBudgetGivesNoSpace) {
  fs_.SetWriteBudget(10);
  auto f = *fs_.Open(P("b"), OpenMode::kCreate);
  EXPECT_TRUE(f->WriteAt(0, "12345", 5).ok());
  Status s = f->WriteAt(5, "123456", 6);
  EXPECT_EQ(s.code(), Code::kNoSpace);
  fs_.SetWriteBudget(-1);
  EXPECT_TRUE(f->WriteAt(5, "123456", 6).ok());
  fs_.SetFailSync(true);
  EXPECT_EQ(f->Sync().code(), Code::kIOError);
}

// WriteAtV writes its pieces back to back, empty ones included, both as one pwritev (POSIX)
// and through the default that joins them (the fault-injecting file), which also keeps the
// pieces subject to the write budget.
TEST_F(FaultFsTest, VectoredWriteJoinsItsPieces) {
  auto bytes = [](const char* s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); };
  ByteSpan pieces[4] = {bytes("head"), ByteSpan(), bytes("-payload-"), bytes("tail")};
  auto posix = *FileSystem::Posix()->Open(P("v"), OpenMode::kCreate);
  ASSERT_TRUE(posix->WriteAt(0, "0123456789", 10).ok());
  ASSERT_TRUE(posix->WriteAtV(3, pieces, 4).ok());
  EXPECT_EQ(Read("v"), "012head-payload-tail");
  auto faulty = *fs_.Open(P("w"), OpenMode::kCreate);
  ASSERT_TRUE(faulty->WriteAtV(0, pieces, 4).ok());
  EXPECT_EQ(Read("w"), "head-payload-tail");
  fs_.SetWriteBudget(5);
  EXPECT_EQ(faulty->WriteAtV(0, pieces, 4).code(), Code::kNoSpace);
}

}  // namespace
}  // namespace lifeline
