// BlockHashCompare (nbd mode's resync by block hashes) against a model vault: only the
// blocks that differ are marked; writes racing with the comparison — before, between and
// after the local and the replica hashing, durable or not — always end in the replica; a
// seeded random interleaving checks the same (it prints its seed and replays with
// LL_SEED=N); a resumed comparison starts where it stopped.
#include "agent/hash_compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "agent/capture_backend.h"
#include "common/checksum.h"
#include "nbd/memory_backend.h"

namespace lifeline::agent {
namespace {

constexpr uint32_t kBlock = 64u << 10;
constexpr uint64_t kBlocks = 32;
constexpr uint64_t kDisk = kBlocks * kBlock - 12345;  // a short last block too

ByteSpan Bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Random(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

// The agent side (an image served through a CaptureBackend on a CaptureQueue) and a vault
// that holds an older state of the disk and applies the records it is handed, in seq order.
class HashCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(1);
    replica_ = Random(rng, kDisk);
    image_ = std::make_shared<nbd::MemoryBackend>(kDisk);
    ASSERT_TRUE(image_->Write(0, Bytes(replica_), false).ok());
    queue_ = std::make_unique<CaptureQueue>(CaptureQueueOptions{}, kDisk, 100);
    ASSERT_TRUE(queue_->Open().ok());
    backend_ = std::make_unique<CaptureBackend>(image_, queue_.get());
  }
  // Behind the agent's back (before it serves the disk): no record.
  void WriteBehind(uint64_t offset, const std::string& data) {
    ASSERT_TRUE(image_->Write(offset, Bytes(data), false).ok());
  }
  // The machine's write, through the agent.
  void Write(uint64_t offset, const std::string& data) {
    ASSERT_TRUE(backend_->Write(offset, Bytes(data), false).ok());
  }
  // The vault makes up to `max` more records durable.
  void Deliver(int max = 1 << 30) {
    CaptureRecord r;
    while (max-- > 0 && queue_->Pop(&r, 0)) {
      if (r.type != CaptureRecord::Type::kWrite) continue;
      if (r.kind == wire::WriteKind::kData)
        replica_.replace(r.offset, r.length, *r.data);
      else
        replica_.replace(r.offset, r.length, std::string(r.length, '\0'));
    }
  }
  Result<std::vector<uint64_t>> ReplicaHashes(uint32_t block, uint64_t first, uint32_t count) {
    std::vector<uint64_t> h;
    for (uint64_t b = first; b < first + count && b * block < kDisk; ++b)
      h.push_back(Xxh3(replica_.data() + b * block, std::min<uint64_t>(block, kDisk - b * block)));
    return h;
  }
  std::unique_ptr<BlockHashCompare> MakeCompare(
      uint32_t batch, uint64_t first_block = 0,
      std::function<void(uint64_t first, uint32_t count)> before_replica_hashes = {}) {
    HashCompareOptions o;
    o.block_bytes = kBlock;
    o.batch_blocks = batch;
    return std::make_unique<BlockHashCompare>(
        o, image_.get(), queue_.get(),
        [this, before_replica_hashes](uint32_t block, uint64_t first, uint32_t count) {
          if (before_replica_hashes) before_replica_hashes(first, count);
          return ReplicaHashes(block, first, count);
        },
        first_block);
  }
  void RunToEnd(BlockHashCompare* c) {
    for (int i = 0; i < 1000; ++i) {
      auto done = c->Step();
      ASSERT_TRUE(done.ok()) << done.status().ToString();
      if (*done) return;
    }
    FAIL() << "the comparison never ended";
  }
  // The capture's resync: dirty blocks read and queued, everything delivered.
  void Drain() {
    auto read = [this](uint64_t off, MutableByteSpan out) { return image_->Read(off, out); };
    for (int i = 0; i < 10000 && queue_->stats().dirty_blocks > 0; ++i) {
      ASSERT_TRUE(queue_->ResyncStep(read, 4).ok());
      Deliver();
    }
    Deliver();
    ASSERT_EQ(queue_->stats().dirty_blocks, 0u);
  }
  void ExpectReplicaEqualsImage() {
    auto snap = image_->Snapshot();
    ASSERT_EQ(snap.size(), replica_.size());
    for (uint64_t b = 0; b * kBlock < kDisk; ++b) {
      uint64_t n = std::min<uint64_t>(kBlock, kDisk - b * kBlock);
      ASSERT_EQ(0, std::memcmp(snap.data() + b * kBlock, replica_.data() + b * kBlock, n))
          << "block " << b << " differs";
    }
  }
  std::string Block(char c, uint64_t n = kBlock) { return std::string(n, c); }

  std::string replica_;
  std::shared_ptr<nbd::MemoryBackend> image_;
  std::unique_ptr<CaptureQueue> queue_;
  std::unique_ptr<CaptureBackend> backend_;
};

TEST_F(HashCompareTest, MarksOnlyTheBlocksThatDiffer) {
  WriteBehind(3 * kBlock + 100, "changed");
  WriteBehind(20 * kBlock, Block('x', 2 * kBlock));           // two whole blocks
  WriteBehind(kDisk - 10, "end");                             // the short last block
  ASSERT_TRUE(image_->Trim(9 * kBlock, kBlock, false).ok());  // a hole where the replica has data
  queue_->SetComparing(true);
  EXPECT_EQ(queue_->RecordPoint(wire::PointKind::kCrash, "", "", 0), 0u)
      << "no point while comparing";
  EXPECT_FALSE(queue_->HoldForGroup(1, 0).ok()) << "no group hold while comparing";
  EXPECT_EQ(queue_->stats().state, CaptureState::kResync);
  auto c = MakeCompare(8);
  RunToEnd(c.get());
  queue_->SetComparing(false);
  EXPECT_EQ(c->progress().blocks_compared, kBlocks);
  EXPECT_EQ(c->progress().blocks_changed, 5u);
  EXPECT_EQ(queue_->stats().dirty_blocks, 5u);
  Drain();
  EXPECT_EQ(queue_->stats().resync_bytes, 4 * kBlock + (kDisk - (kBlocks - 1) * kBlock));
  ExpectReplicaEqualsImage();
}

// The block is hashed equal locally; then the machine writes it; the vault hashes it before
// that write is durable (equal again): the block is not resent, and the write's own record
// brings it to the replica.
TEST_F(HashCompareTest, AWriteAfterTheBlockWasHashedEqualReachesTheReplicaByItsRecord) {
  auto c = MakeCompare(8, 0, [this](uint64_t first, uint32_t) {
    if (first == 0) Write(5 * kBlock + 4096, Block('w', 8192));
  });
  RunToEnd(c.get());
  EXPECT_EQ(queue_->stats().dirty_blocks, 0u) << "nothing differed when both sides were hashed";
  EXPECT_EQ(queue_->stats().records, 1u);
  Drain();
  ExpectReplicaEqualsImage();
}

// The write lands after the local hashing and is durable before the vault hashes: the
// hashes differ, the block is sent again (a harmless extra), and it ends equal.
TEST_F(HashCompareTest, AWriteDurableBeforeTheVaultHashesMakesTheBlockDirty) {
  auto c = MakeCompare(8, 0, [this](uint64_t first, uint32_t) {
    if (first == 0) {
      Write(6 * kBlock, Block('d', 512));
      Deliver();
    }
  });
  RunToEnd(c.get());
  EXPECT_EQ(queue_->stats().dirty_blocks, 1u);
  Drain();
  ExpectReplicaEqualsImage();
}

// A block written (not yet durable) before it is hashed locally: it differs from the
// replica, so it is marked, never skipped; its record and the resync both end equal.
TEST_F(HashCompareTest, ABlockWrittenBeforeItWasHashedIsNeverSkipped) {
  auto c = MakeCompare(8, 0, [this](uint64_t first, uint32_t) {
    if (first == 0) Write(12 * kBlock + 77, "later batch, hashed after this write");
  });
  RunToEnd(c.get());
  EXPECT_EQ(queue_->stats().dirty_blocks, 1u);
  Drain();
  ExpectReplicaEqualsImage();
}

// Writes of random sizes (across blocks too) at random moments of the comparison — before
// the local hashing of their block, between it and the vault's, after both — with the
// vault making a random number of records durable at random moments, plus changes behind
// the agent's back: the replica always ends equal to the image.
TEST_F(HashCompareTest, RandomWritesDuringTheComparisonAreNeverLost) {
  uint64_t seed = std::getenv("LL_SEED") ? std::strtoull(std::getenv("LL_SEED"), nullptr, 10)
                                         : std::random_device()();
  std::printf("seed %llu (replay with LL_SEED=%llu)\n", (unsigned long long)seed,
              (unsigned long long)seed);
  for (int round = 0; round < 40; ++round) {
    SetUp();
    std::mt19937_64 rng(seed + uint64_t(round));
    auto random_write = [&](bool behind) {
      uint64_t len = 1 + rng() % (3 * kBlock / 2);
      uint64_t off = rng() % (kDisk - len);
      std::string data = rng() % 4 ? Random(rng, len) : std::string(len, '\0');
      if (behind)
        WriteBehind(off, data);
      else
        Write(off, data);
    };
    for (int i = 0; i < int(rng() % 6); ++i) random_write(true);
    auto c = MakeCompare(uint32_t(1 + rng() % 8), 0, [&](uint64_t, uint32_t) {
      for (int i = 0; i < int(rng() % 3); ++i) random_write(false);
      Deliver(int(rng() % 3));
    });
    for (int step = 0; step < 1000; ++step) {
      for (int i = 0; i < int(rng() % 3); ++i) random_write(false);
      Deliver(int(rng() % 3));
      auto done = c->Step();
      ASSERT_TRUE(done.ok());
      if (*done) break;
    }
    for (int i = 0; i < int(rng() % 3); ++i) random_write(false);
    Drain();
    ExpectReplicaEqualsImage();
    if (HasFatalFailure()) {
      ADD_FAILURE() << "seed " << seed << " round " << round;
      return;
    }
  }
}

TEST_F(HashCompareTest, AResumedComparisonStartsWhereItStopped) {
  WriteBehind(2 * kBlock, "before the resume position: already compared");
  WriteBehind(30 * kBlock, "after it");
  auto c = MakeCompare(8, 16);
  EXPECT_EQ(c->progress().next_block, 16u);
  RunToEnd(c.get());
  EXPECT_EQ(c->progress().blocks_compared, kBlocks - 16);
  EXPECT_EQ(queue_->stats().dirty_blocks, 1u);
  EXPECT_TRUE(MakeCompare(8, 1000)->done()) << "a position past the end: nothing left";
}

TEST_F(HashCompareTest, AVaultErrorMovesNothingAndTheBatchIsComparedAgain) {
  WriteBehind(1 * kBlock, "x");
  int calls = 0;
  HashCompareOptions o;
  o.block_bytes = kBlock;
  BlockHashCompare c(
      o, image_.get(), queue_.get(),
      [&](uint32_t block, uint64_t first, uint32_t count) -> Result<std::vector<uint64_t>> {
        if (++calls == 1) return Status::IOError("not connected");
        return ReplicaHashes(block, first, count);
      },
      0);
  EXPECT_FALSE(c.Step().ok());
  EXPECT_EQ(c.progress().next_block, 0u);
  EXPECT_EQ(queue_->stats().dirty_blocks, 0u);
  RunToEnd(&c);
  EXPECT_EQ(queue_->stats().dirty_blocks, 1u);
}

}  // namespace
}  // namespace lifeline::agent
