// FileBackend on a sparse temp file (pread/pwrite, punch/zero, SEEK_DATA extents),
// ExportRegistry name rules, and BufferPool reuse.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "nbd/buffer_pool.h"
#include "nbd/export_registry.h"
#include "nbd/file_backend.h"
#include "nbd/memory_backend.h"
#include "nbd/protocol.h"

namespace lifeline::nbd {
namespace {

class FileBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nbd_backend_testXXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4 << 20), 0);
    ::close(fd);
    path_ = tmpl;
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(FileBackendTest, MissingImageIsNotFound) {
  auto b = FileBackend::Open("/nonexistent/disk.img", false);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kNotFound);
}

TEST_F(FileBackendTest, WriteReadZeroTrim) {
  auto opened = FileBackend::Open(path_, false);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  FileBackend& b = **opened;
  EXPECT_EQ(b.size(), 4u << 20);
  std::vector<uint8_t> data(1 << 20, 0xc3);
  ASSERT_TRUE(b.Write(1 << 20, ByteSpan(data), true).ok());
  std::vector<uint8_t> back(1 << 20);
  ASSERT_TRUE(b.Read(1 << 20, MutableByteSpan(back)).ok());
  EXPECT_EQ(back, data);

  ASSERT_TRUE(b.WriteZeroes((1 << 20) + 4096, 8192, ZeroMode{false, false}, false).ok());
  ASSERT_TRUE(b.WriteZeroes((1 << 20) + 65536, 65536, ZeroMode{true, true}, false).ok());
  ASSERT_TRUE(b.Trim((1 << 20) + 262144, 65536, false).ok());
  ASSERT_TRUE(b.Flush().ok());
  ASSERT_TRUE(b.Read(1 << 20, MutableByteSpan(back)).ok());
  EXPECT_EQ(back[4095], 0xc3);
  EXPECT_EQ(back[4096], 0);
  EXPECT_EQ(back[4096 + 8191], 0);
  EXPECT_EQ(back[4096 + 8192], 0xc3);
  EXPECT_EQ(back[65536], 0);
  EXPECT_EQ(back[131071], 0);
  EXPECT_EQ(back[131072], 0xc3);
}

TEST_F(FileBackendTest, BlockStatusFollowsAllocation) {
  auto opened = FileBackend::Open(path_, false);
  ASSERT_TRUE(opened.ok());
  FileBackend& b = **opened;
  std::vector<uint8_t> data(65536, 1);
  ASSERT_TRUE(b.Write(1 << 20, ByteSpan(data), false).ok());
  std::vector<Extent> ext;
  ASSERT_TRUE(b.BlockStatus(0, 4 << 20, 100, &ext).ok());
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0].length, 1u << 20);
  EXPECT_EQ(ext[0].flags, kStateHole | kStateZero);
  EXPECT_EQ(ext[1].flags, 0u);
  EXPECT_GE(ext[1].length, 65536u);
  uint64_t total = 0;
  for (auto& e : ext) total += e.length;
  EXPECT_EQ(total, 4u << 20);
  ASSERT_TRUE(b.BlockStatus(0, 4 << 20, 1, &ext).ok());
  EXPECT_EQ(ext.size(), 1u);
}

TEST_F(FileBackendTest, ReadOnlyOpenRefusesWrites) {
  auto opened = FileBackend::Open(path_, true);
  ASSERT_TRUE(opened.ok());
  std::vector<uint8_t> data(512, 1);
  EXPECT_FALSE((*opened)->Write(0, ByteSpan(data), false).ok());
}

TEST(ExportRegistryTest, NamesDefaultsAndDuplicates) {
  ExportRegistry reg;
  EXPECT_EQ(reg.Find(""), nullptr);
  ASSERT_TRUE(reg.Add({"disk0", "", std::make_shared<MemoryBackend>(4096), false}).ok());
  EXPECT_NE(reg.Find(""), nullptr);  // the only export is the default
  EXPECT_EQ(reg.Add({"disk0", "", std::make_shared<MemoryBackend>(4096), false}).code(),
            Code::kBusy);
  EXPECT_EQ(reg.Add({"x", "", nullptr, false}).code(), Code::kInvalidArgument);
  EXPECT_EQ(reg.Add({std::string(5000, 'n'), "", std::make_shared<MemoryBackend>(1), false}).code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(reg.Add({"disk1", "", std::make_shared<MemoryBackend>(4096), true}).ok());
  EXPECT_EQ(reg.Find(""), nullptr);  // ambiguous now
  EXPECT_EQ(reg.Names(), (std::vector<std::string>{"disk0", "disk1"}));
  auto held = reg.Find("disk1");
  EXPECT_TRUE(reg.Remove("disk1").ok());
  EXPECT_EQ(reg.Remove("disk1").code(), Code::kNotFound);
  EXPECT_TRUE(held->read_only);  // still usable by whoever holds it
}

TEST(BufferPoolTest, ReusesLargeBuffers) {
  BufferPool pool(4 << 20);
  uint8_t* first;
  {
    PooledBuffer b = pool.Get(1 << 20);
    first = b.get();
  }
  PooledBuffer again = pool.Get((1 << 20) - 5);
  EXPECT_EQ(again.get(), first);
  PooledBuffer small = pool.Get(100);  // plain allocation
  EXPECT_NE(small.get(), nullptr);
  PooledBuffer huge = pool.Get(8 << 20);  // bigger than the cache: freed, not kept
  EXPECT_NE(huge.get(), nullptr);
}

}  // namespace
}  // namespace lifeline::nbd
