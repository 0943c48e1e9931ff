// CaptureQueue and SpillFile: seq order, splitting, memory -> spill -> bitmap fallback,
// resync, crash-safe bitmap (and its damaged forms), the bounded group hold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/capture_backend.h"
#include "common/clock.h"
#include "nbd/executor.h"
#include "nbd/memory_backend.h"
#include "nbd/protocol.h"

namespace lifeline::agent {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto d = fs::temp_directory_path() / ("ll-cq-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

constexpr uint64_t kDisk = 16u << 20;

ByteSpan Bytes(const std::string& s) { return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(CaptureQueueTest, NumbersInCompletionOrderAndSplitsLargeWrites) {
  CaptureQueueOptions o;
  CaptureQueue q(o, kDisk, 10);
  ASSERT_TRUE(q.Open().ok());
  std::string small(4096, 'a'), big(9u << 20, 'b');
  EXPECT_EQ(q.Record(wire::WriteKind::kData, 0, small.size(), Bytes(small)), 10u);
  EXPECT_EQ(q.Record(wire::WriteKind::kData, 0, big.size(), Bytes(big)), 13u);  // 3 pieces of <= 4 MiB
  EXPECT_EQ(q.Record(wire::WriteKind::kZero, 0, 40u << 20, {}), 15u);         // 2 pieces of <= 32 MiB
  EXPECT_EQ(q.RecordPoint(wire::PointKind::kCrash, "p", "", 0), 15u);
  CaptureRecord r;
  ASSERT_TRUE(q.Pop(&r, 10));
  EXPECT_EQ(r.seq, 10u);
  ASSERT_TRUE(q.Pop(&r, 10));
  EXPECT_EQ(r.seq, 11u);
  EXPECT_EQ(r.pieces, 3u);
  EXPECT_EQ(*r.data, big);
  ASSERT_TRUE(q.Pop(&r, 10));
  EXPECT_EQ(r.kind, wire::WriteKind::kZero);
  EXPECT_EQ(r.last_seq(), 15u);
  ASSERT_TRUE(q.Pop(&r, 10));
  EXPECT_EQ(r.type, CaptureRecord::Type::kPoint);
  EXPECT_FALSE(q.Pop(&r, 10));
}

TEST(CaptureQueueTest, MemoryThenSpillThenBitmapThenResync) {
  std::string dir = TempDir();
  CaptureQueueOptions o;
  o.state_dir = dir;
  o.max_memory_bytes = 64 * 1024;
  o.max_spill_bytes = 128 * 1024;
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  std::string disk(kDisk, '\0');
  uint64_t bitmap_at = 0;
  for (int i = 0; i < 100; ++i) {
    std::string data(16384, char('A' + i % 26));
    disk.replace(uint64_t(i) * 65536, data.size(), data);
    uint64_t seq = q.Record(wire::WriteKind::kData, uint64_t(i) * 65536, data.size(), Bytes(data));
    if (seq == 0 && bitmap_at == 0) bitmap_at = i;
    if (i < 3) {
      EXPECT_EQ(q.stats().state, CaptureState::kStreaming);
    }
  }
  ASSERT_GT(bitmap_at, 3u);
  auto st = q.stats();
  EXPECT_EQ(st.state, CaptureState::kBitmap);
  EXPECT_EQ(st.dirty_blocks, 100 - bitmap_at);
  EXPECT_GT(st.spill_bytes, 0u);
  EXPECT_EQ(q.RecordPoint(wire::PointKind::kCrash, "", "", 0), 0u) << "no point while the order is lost";
  // Drain: seqs come back consecutive, memory first then the spill.
  CaptureRecord r;
  uint64_t expect = 1;
  while (q.Pop(&r, 1)) {
    EXPECT_EQ(r.seq, expect);
    EXPECT_EQ(r.offset, (expect - 1) * 65536);
    ++expect;
  }
  EXPECT_EQ(expect, bitmap_at + 1);
  // Resync reads the dirty blocks from the disk, in new seqs.
  auto read = [&](uint64_t off, MutableByteSpan out) {
    std::memcpy(out.data(), disk.data() + off, out.size());
    return Status::Ok();
  };
  std::string replica(kDisk, '\0');
  for (int guard = 0; guard < 1000; ++guard) {
    auto step = q.ResyncStep(read, 4);
    ASSERT_TRUE(step.ok());
    while (q.Pop(&r, 1)) {
      EXPECT_EQ(r.seq, expect);
      expect = r.last_seq() + 1;
      replica.replace(r.offset, r.data->size(), *r.data);
    }
    if (!*step) break;
  }
  EXPECT_EQ(q.stats().state, CaptureState::kStreaming);
  EXPECT_EQ(q.stats().dirty_blocks, 0u);
  for (uint64_t i = bitmap_at; i < 100; ++i)
    EXPECT_EQ(replica.compare(i * 65536, 65536, disk, i * 65536, 65536), 0) << "block " << i;
  EXPECT_NE(q.RecordPoint(wire::PointKind::kCrash, "resync", "", 0), 0u);
  fs::remove_all(dir);
}

// The resync read runs without the ordering lock first: a write landing in the range
// meanwhile makes it read again under the lock (newest bytes, after the write), and a
// bitmap persisted during the read still covers the range.
TEST(CaptureQueueTest, WriteDuringAResyncReadMakesItReadAgainUnderTheLock) {
  std::string dir = TempDir();
  CaptureQueueOptions o;
  o.state_dir = dir;
  o.max_memory_bytes = 1;  // one record at a time in memory
  o.max_spill_bytes = 1;   // nothing fits: straight to the bitmap
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  std::string disk(kDisk, '\0');
  std::string a(65536, 'a'), b(65536, 'b'), c(65536, 'c');
  disk.replace(0, a.size(), a);
  ASSERT_EQ(q.Record(wire::WriteKind::kData, 0, a.size(), Bytes(a)), 1u);
  disk.replace(65536, b.size(), b);
  ASSERT_EQ(q.Record(wire::WriteKind::kData, 65536, b.size(), Bytes(b)), 0u) << "buffers full: bitmap";
  CaptureRecord r;
  ASSERT_TRUE(q.Pop(&r, 1));
  q.Ack(r.last_seq());
  ASSERT_EQ(q.stats().dirty_blocks, 1u);
  int reads = 0;
  auto racing_read = [&](uint64_t off, MutableByteSpan out) {
    std::memcpy(out.data(), disk.data() + off, out.size());  // the first read sees 'b'
    if (++reads == 1) {
      EXPECT_TRUE(q.Persist().ok());
      {
        CaptureQueue restarted(o, kDisk, 1);  // what a crash during the read would leave
        EXPECT_TRUE(restarted.Open().ok());
        EXPECT_EQ(restarted.stats().dirty_blocks, 1u) << "the range being read is in the bitmap";
      }
      disk.replace(65536, c.size(), c);
      EXPECT_EQ(q.Record(wire::WriteKind::kData, 65536, c.size(), Bytes(c)), 2u);
    }
    return Status::Ok();
  };
  auto step = q.ResyncStep(racing_read, 16);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(*step);
  EXPECT_EQ(reads, 2) << "read again after the race";
  ASSERT_TRUE(q.Pop(&r, 1));
  EXPECT_EQ(r.seq, 2u);
  EXPECT_EQ(*r.data, c);
  ASSERT_TRUE(q.Pop(&r, 1));
  EXPECT_EQ(r.seq, 3u);
  EXPECT_EQ(r.offset, 65536u);
  EXPECT_EQ(*r.data, c) << "the resync record carries the bytes after the racing write";
  EXPECT_EQ(q.stats().dirty_blocks, 0u);
  EXPECT_EQ(q.RecordPoint(wire::PointKind::kCrash, "", "", 0), 3u);
  fs::remove_all(dir);
}

TEST(CaptureQueueTest, PersistedBitmapSurvivesARestartAndAcksClearIt) {
  std::string dir = TempDir();
  CaptureQueueOptions o;
  o.state_dir = dir;
  {
    CaptureQueue q(o, kDisk, 1);
    ASSERT_TRUE(q.Open().ok());
    std::string data(4096, 'x');
    q.Record(wire::WriteKind::kData, 0, data.size(), Bytes(data));
    q.Record(wire::WriteKind::kData, 5u << 20, data.size(), Bytes(data));
    ASSERT_TRUE(q.Persist().ok());
  }
  {
    CaptureQueue q(o, kDisk, 1);
    ASSERT_TRUE(q.Open().ok());
    EXPECT_EQ(q.stats().dirty_blocks, 2u);
    EXPECT_EQ(q.stats().state, CaptureState::kResync);
    // Nothing dirty and everything acknowledged: the file marks nothing afterwards.
    auto read = [](uint64_t, MutableByteSpan out) {
      std::memset(out.data(), 0, out.size());
      return Status::Ok();
    };
    CaptureRecord r;
    while (*q.ResyncStep(read, 16))
      while (q.Pop(&r, 1)) q.Ack(r.last_seq());
    ASSERT_TRUE(q.Persist().ok());
  }
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  EXPECT_EQ(q.stats().dirty_blocks, 0u);
  fs::remove_all(dir);
}

TEST(CaptureQueueTest, DamagedBitmapFilesFallBackToAFullResync) {
  std::string dir = TempDir();
  CaptureQueueOptions o;
  o.state_dir = dir;
  {
    CaptureQueue q(o, kDisk, 1);
    ASSERT_TRUE(q.Open().ok());
    std::string data(4096, 'x');
    q.Record(wire::WriteKind::kData, 0, data.size(), Bytes(data));
    ASSERT_TRUE(q.Persist().ok());
  }
  std::string path = dir + "/dirty.bitmap";
  std::string good;
  {
    std::ifstream f(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(f), {});
  }
  const uint64_t all_blocks = kDisk / o.block_bytes;
  // Opens with `content` as the bitmap: never an error, the number of dirty blocks, and
  // whether the damage was reported and the file kept aside.
  auto try_open = [&](const std::string& content, uint64_t want_dirty, bool want_warning) {
    fs::remove(path + ".corrupt");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    CaptureQueue q(o, kDisk, 1);
    Status s = q.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(q.stats().dirty_blocks, want_dirty);
    EXPECT_EQ(!q.open_warning().empty(), want_warning) << q.open_warning();
    EXPECT_EQ(fs::exists(path + ".corrupt"), want_warning);
    if (want_dirty) {
      EXPECT_EQ(q.stats().state, CaptureState::kResync);
    }
  };
  try_open(good, 1, false);
  std::string flipped = good;
  flipped[30] ^= 1;
  try_open(flipped, all_blocks, true);
  try_open(good.substr(0, good.size() - 3), all_blocks, true);
  try_open("", all_blocks, true);
  std::string bad_magic = good;
  bad_magic[0] ^= 0xff;
  try_open(bad_magic, all_blocks, true);
  fs::remove_all(dir);
}

TEST(CaptureQueueTest, SpillRecordsLeftByARestartAreResyncedAndADamagedSpillResyncsAll) {
  std::string dir = TempDir();
  CaptureQueueOptions o;
  o.state_dir = dir;
  o.max_spill_bytes = 1u << 20;
  {
    auto spill = std::move(SpillFile::Create(dir + "/spill.dat", 1u << 20)).value();
    CaptureRecord a;
    a.seq = 1;
    a.offset = 3 * o.block_bytes;
    a.length = 5;
    a.data = std::make_shared<const std::string>("hello");
    ASSERT_TRUE(spill->Append(a).ok());
  }
  {
    CaptureQueue q(o, kDisk, 1);
    ASSERT_TRUE(q.Open().ok());
    EXPECT_EQ(q.stats().dirty_blocks, 1u);  // block 3, from the spilled write
    EXPECT_TRUE(q.open_warning().empty());
  }
  // Open recreated the spill empty; now leave a damaged one behind.
  std::ofstream(dir + "/spill.dat", std::ios::binary | std::ios::trunc) << std::string(70, '\x42');
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  EXPECT_EQ(q.stats().dirty_blocks, kDisk / o.block_bytes);
  EXPECT_NE(q.open_warning().find("spill"), std::string::npos) << q.open_warning();
  EXPECT_TRUE(fs::exists(dir + "/spill.dat.corrupt"));
  fs::remove_all(dir);
}

TEST(SpillFileTest, RoundTripAndChecksumFailure) {
  std::string dir = TempDir();
  auto spill = std::move(SpillFile::Create(dir + "/spill", 1u << 20)).value();
  CaptureRecord a;
  a.seq = 7;
  a.offset = 4096;
  a.length = 5;
  a.data = std::make_shared<const std::string>("hello");
  a.time_ns = 123;
  CaptureRecord p;
  p.type = CaptureRecord::Type::kPoint;
  p.seq = 7;
  p.label = "app";
  p.group_id = "g1";
  ASSERT_TRUE(spill->Fits(a));
  ASSERT_TRUE(spill->Append(a).ok());
  ASSERT_TRUE(spill->Append(p).ok());
  CaptureRecord out;
  ASSERT_TRUE(spill->PopFront(&out).ok());
  EXPECT_EQ(out.seq, 7u);
  EXPECT_EQ(*out.data, "hello");
  EXPECT_EQ(out.time_ns, 123);
  ASSERT_TRUE(spill->PopFront(&out).ok());
  EXPECT_EQ(out.type, CaptureRecord::Type::kPoint);
  EXPECT_EQ(out.group_id, "g1");
  EXPECT_TRUE(spill->empty());
  // A flipped payload byte is caught.
  ASSERT_TRUE(spill->Append(a).ok());
  {
    std::fstream f(dir + "/spill", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    f.put('\x7f');
  }
  EXPECT_EQ(spill->PopFront(&out).code(), Code::kCorruption);
  // Bounded.
  CaptureRecord huge = a;
  huge.data = std::make_shared<const std::string>(2u << 20, 'z');
  EXPECT_FALSE(spill->Fits(huge));
  fs::remove_all(dir);
}

TEST(CaptureQueueTest, GroupHoldIsBoundedAndReleasable) {
  CaptureQueueOptions o;
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  std::string data(512, 'h');
  q.Hold(Clock::System()->MonotonicNanos() + 40'000'000);
  auto t0 = std::chrono::steady_clock::now();
  q.Record(wire::WriteKind::kData, 0, data.size(), Bytes(data));
  double held_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(held_ms, 30.0);
  EXPECT_LT(held_ms, 500.0);
  // Released early: a waiting completion goes on at once.
  q.Hold(Clock::System()->MonotonicNanos() + 5'000'000'000);
  std::thread t([&] { q.Record(wire::WriteKind::kData, 0, data.size(), Bytes(data)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(q.last_seq(), 1u) << "held";
  t0 = std::chrono::steady_clock::now();
  q.Release();
  t.join();
  EXPECT_EQ(q.last_seq(), 2u);
  double release_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(release_ms, 200.0);
}

// A planned failover's fence: once fenced, writes, trims and zeroes are refused with
// Unauthenticated (NBD: EPERM) and neither reach the disk nor get a seq; unfenced, they are
// taken again.
TEST(CaptureQueueTest, FencedBackendRefusesEveryChangeUntilUnfenced) {
  CaptureQueueOptions o;
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  auto image = std::make_shared<nbd::MemoryBackend>(kDisk);
  CaptureBackend b(image, &q);
  std::string a(4096, 'a'), z(4096, 'z');
  ASSERT_TRUE(b.Write(0, Bytes(a), false).ok());
  EXPECT_EQ(q.Fence(), 1u);  // the newest seq before the fence
  EXPECT_TRUE(q.fenced());
  EXPECT_EQ(b.Write(0, Bytes(z), false).code(), Code::kUnauthenticated);
  EXPECT_EQ(b.Trim(0, 4096, false).code(), Code::kUnauthenticated);
  EXPECT_EQ(b.WriteZeroes(0, 4096, nbd::ZeroMode{}, false).code(), Code::kUnauthenticated);
  EXPECT_EQ(q.RecordWrite(wire::WriteKind::kData, 0, z.size(), Bytes(z)).status().code(),
            Code::kUnauthenticated);
  EXPECT_EQ(nbd::ErrorFromStatus(b.Write(0, Bytes(z), false)), nbd::kEPerm);
  std::string back(4096, '\0');
  ASSERT_TRUE(
      b.Read(0, MutableByteSpan(reinterpret_cast<uint8_t*>(back.data()), back.size())).ok());
  EXPECT_EQ(back, a) << "a refused write reached the disk";
  EXPECT_EQ(q.last_seq(), 1u);
  // The final point is still possible, at the fence's seq.
  EXPECT_EQ(q.RecordPoint(wire::PointKind::kCrash, "planned failover", "", 0), 1u);
  q.Unfence();
  EXPECT_FALSE(q.fenced());
  ASSERT_TRUE(b.Write(0, Bytes(z), false).ok());
  EXPECT_EQ(q.last_seq(), 2u);
}

// A disk whose writes wait, once started, until the test lets them finish.
class SlowWriteBackend final : public nbd::Backend {
 public:
  explicit SlowWriteBackend(uint64_t size) : inner_(size) {}
  uint64_t size() const override { return inner_.size(); }
  Status Read(uint64_t offset, MutableByteSpan out) override { return inner_.Read(offset, out); }
  Status Write(uint64_t offset, ByteSpan data, bool fua) override {
    started_ = true;
    while (!go_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return inner_.Write(offset, data, fua);
  }
  Status Flush() override { return inner_.Flush(); }
  Status Trim(uint64_t offset, uint64_t length, bool fua) override { return inner_.Trim(offset, length, fua); }
  Status WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode mode, bool fua) override {
    return inner_.WriteZeroes(offset, length, mode, fua);
  }
  Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents, std::vector<nbd::Extent>* out) override {
    return inner_.BlockStatus(offset, length, max_extents, out);
  }
  std::atomic<bool> started_{false}, go_{false};

 private:
  nbd::MemoryBackend inner_;
};

TEST(CaptureQueueTest, FenceWaitsForAWriteAlreadyOnItsWayToTheDisk) {
  // A write that passed the fence check is on the disk when the fence comes: the fence
  // waits for it, and it is numbered before the fence's seq (never on the disk and refused).
  CaptureQueueOptions o;
  CaptureQueue q(o, kDisk, 1);
  ASSERT_TRUE(q.Open().ok());
  auto image = std::make_shared<SlowWriteBackend>(kDisk);
  CaptureBackend b(image, &q);
  std::string a(4096, 'a');
  Status write_status = Status::IOError("not run");
  std::thread writer([&] { write_status = b.Write(0, Bytes(a), false); });
  while (!image->started_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<uint64_t> fence_seq{UINT64_MAX};
  std::thread fencer([&] { fence_seq = q.Fence(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(fence_seq.load(), UINT64_MAX) << "the fence did not wait for the write on its way";
  image->go_ = true;
  writer.join();
  fencer.join();
  EXPECT_TRUE(write_status.ok()) << write_status.ToString();
  EXPECT_EQ(fence_seq.load(), 1u) << "the write that reached the disk is before the fence";
  EXPECT_EQ(b.Write(4096, Bytes(a), false).code(), Code::kUnauthenticated);
}

}  // namespace
}  // namespace lifeline::agent
