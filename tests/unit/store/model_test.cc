// Seeded randomized model test: random writes, zero and trim records, points, folds and
// compaction, power cuts that drop unsynced data, reopen; every listed point and the newest
// durable state are compared byte for byte with an in-memory reference history.
// Prints its seed; replay with LIFELINE_SEED=<seed>.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "common/fault_fs.h"
#include "store/disk_replica.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

using testing::PatternBytes;
using testing::ReadAll;
using testing::ReferenceDisk;
using testing::TempDir;

// The sanitizer build (clang, -O0, ASan + UBSan) runs this model about four times slower:
// there one seeded round of the four keeps `make test` short, at the same depth per round.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIFELINE_MODEL_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(LIFELINE_MODEL_UNDER_ASAN)
constexpr int kRounds = 1;
#else
constexpr int kRounds = 4;
#endif

uint64_t SeedFromEnv(uint64_t fallback) {
  const char* s = std::getenv("LIFELINE_SEED");
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}

void RunModel(uint64_t seed, int steps) {
  SCOPED_TRACE("LIFELINE_SEED=" + std::to_string(seed));
  std::printf("model test seed %llu (replay with LIFELINE_SEED=%llu)\n", (unsigned long long)seed,
              (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  constexpr uint64_t kDisk = 256 * 1024;
  std::string dir = TempDir("model-" + std::to_string(seed));
  FaultInjectionFs fs(FileSystem::Posix());
  ManualClock clock;
  RetentionPolicy policy{.window_seconds = 3000, .keep_all_seconds = 600, .keep_one_per_seconds = 300};
  DiskOptions opts{&fs, &clock, /*segment_target_bytes=*/32 * 1024};
  opts.materialize_share_bytes = 48 * 1024;  // several materialize threads over this small disk
  auto d = std::move(DiskReplica::Create(dir + "/d", "m", kDisk, policy, opts)).value();
  ReferenceDisk ref(kDisk);
  uint64_t crashes = 0, folds = 0, compacted = 0, fills = 0;
  for (int step = 0; step < steps; ++step) {
    int op = int(rng() % 100);
    clock.Advance(int64_t(rng() % 20) * kNanosPerSecond);
    if (op < 60) {
      uint64_t seq = d->appended_seq() + 1;
      uint32_t len = uint32_t(512 * (1 + rng() % 48));
      uint64_t off = (rng() % ((kDisk - len) / 512 + 1)) * 512;
      RecordKind kind = op < 50 ? RecordKind::kData : (op < 55 ? RecordKind::kZero : RecordKind::kTrim);
      ReferenceDisk::W w{seq, off, kind, kind == RecordKind::kData ? PatternBytes(seed, seq, len) : "", len};
      Status s = d->Append(testing::ToRecord(w, clock.NowUnixNanos()));
      ASSERT_TRUE(s.ok()) << s.ToString() << " at step " << step;
      ref.Apply(w);
    } else if (op < 75) {
      ASSERT_TRUE(d->Sync().ok());
    } else if (op < 85) {
      ASSERT_TRUE(d->Sync().ok());
      auto p = d->AddPoint({.seq = 0, .kind = (rng() % 4 == 0) ? PointKind::kApp : PointKind::kCrash});
      ASSERT_TRUE(p.ok()) << p.status().ToString();
    } else if (op < 92) {
      auto r = d->ApplyRetention(clock.NowUnixNanos());
      ASSERT_TRUE(r.ok()) << r.status().ToString() << " at step " << step;
      folds += r->records_folded > 0;
      compacted += r->records_compacted;
    } else if (op < 97) {
      // Sometimes the disk fills up first, part way through retention work and appends.
      if (rng() % 2 == 0) {
        fs.SetWriteBudget(int64_t(rng() % 20000));
        (void)d->ApplyRetention(clock.NowUnixNanos());
        for (int k = 0; k < 3; ++k) {
          uint64_t seq = d->appended_seq() + 1;
          ReferenceDisk::W w{seq, (rng() % 64) * 4096, RecordKind::kData, PatternBytes(seed, seq, 4096), 4096};
          if (d->Append(testing::ToRecord(w, clock.NowUnixNanos())).ok()) ref.Apply(w);
        }
        (void)d->Sync();
        fs.SetWriteBudget(-1);
        ++fills;
      }
      // Power cut: everything not fsynced is gone; reopen recovers.
      d.reset();
      ASSERT_TRUE(fs.DropUnsyncedData().ok());
      auto reopened = DiskReplica::Open(dir + "/d", opts);
      ASSERT_TRUE(reopened.ok()) << reopened.status().ToString() << " at step " << step;
      d = std::move(reopened).value();
      ASSERT_TRUE(d->read_only_reason().empty()) << d->read_only_reason();
      ASSERT_GE(d->durable_seq(), d->folded_seq());
      ref.TruncateAfter(d->durable_seq());
      ++crashes;
    } else {
      // Verify a random seq inside the keep-all span (every seq there is a point in time).
      uint64_t durable = d->durable_seq();
      auto from = d->SeqAtOrBefore(clock.NowUnixNanos() - 600 * kNanosPerSecond);
      uint64_t lo = std::max(d->folded_seq(), from.ok() ? *from + 1 : 0);
      if (durable >= lo) {
        uint64_t s = lo + rng() % (durable - lo + 1);
        ASSERT_TRUE(testing::SameBytes(ReadAll(*d, s), ref.StateAt(s))) << "seq " << s << " at step " << step;
      }
    }
    if (step % 50 == 49) {
      for (const auto& p : d->Points())
        ASSERT_TRUE(testing::SameBytes(ReadAll(*d, p.seq), ref.StateAt(p.seq))) << "point " << p.id << " at step " << step;
      // Materialized (threads sharing the view) the newest durable state reads the same.
      const std::string image = dir + "/materialized.img";
      ASSERT_TRUE(d->Materialize(d->durable_seq(), image, {}, /*sync=*/false).ok()) << "at step " << step;
      ASSERT_TRUE(testing::SameBytes(testing::ReadFile(image), ref.StateAt(d->durable_seq()))) << "at step " << step;
    }
  }
  ASSERT_TRUE(d->Sync().ok());
  for (const auto& p : d->Points()) ASSERT_TRUE(testing::SameBytes(ReadAll(*d, p.seq), ref.StateAt(p.seq))) << "point " << p.id;
  ASSERT_TRUE(testing::SameBytes(ReadAll(*d, d->durable_seq()), ref.StateAt(d->durable_seq())));
  auto scrub = d->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok());
  std::printf("seed %llu: %d steps, %llu power cuts (%llu with a full disk), %llu folds, %llu records compacted, "
              "durable seq %llu\n",
              (unsigned long long)seed, steps, (unsigned long long)crashes, (unsigned long long)fills,
              (unsigned long long)folds, (unsigned long long)compacted, (unsigned long long)d->durable_seq());
  EXPECT_GT(compacted, 0u) << "the run never compacted: the test lost its power";
  d.reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreModel, RandomHistoriesWithPowerCuts) {
  uint64_t base = SeedFromEnv(std::random_device{}());
  int rounds = std::getenv("LIFELINE_SEED") ? 1 : kRounds;
  for (int i = 0; i < rounds; ++i) {
    RunModel(base + uint64_t(i), 1500);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace lifeline::store
