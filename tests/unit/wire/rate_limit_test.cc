// Token buckets in virtual time: the long-run rate is exact, bursts are bounded, and the
// tighter of the disk and agent limits wins.
#include "wire/rate_limit.h"

#include <gtest/gtest.h>

namespace lifeline::wire {
namespace {

// Sends `frames` frames of `size` bytes through the buckets, advancing the manual clock
// by the delay each would wait; returns the virtual seconds it took.
double SendAll(std::initializer_list<TokenBucket*> buckets, ManualClock* clock, int frames,
               uint64_t size) {
  int64_t start = clock->MonotonicNanos();
  for (int i = 0; i < frames; ++i) {
    int64_t wait = BandwidthDelayNanos(buckets, size);
    clock->Advance(wait);
    EXPECT_EQ(BandwidthDelayNanos(buckets, size), 0);
    for (TokenBucket* b : buckets)
      if (b) b->Take(size);
  }
  return double(clock->MonotonicNanos() - start) / 1e9;
}

TEST(RateLimitTest, LongRunRateIsTheConfiguredRate) {
  ManualClock clock;
  TokenBucket disk(10'000'000, 1'000'000, &clock);  // 10 MB/s, 1 MB burst
  // 100 frames of 1 MiB = 104.9 MB: about 10.4 s, minus the initial burst.
  double s = SendAll({&disk}, &clock, 100, 1 << 20);
  EXPECT_NEAR(s, (100.0 * (1 << 20) - 1'000'000) / 10e6, 0.15);
}

TEST(RateLimitTest, FramesLargerThanTheBurstPassByBorrowing) {
  ManualClock clock;
  TokenBucket b(1'000'000, 64 * 1024, &clock);
  EXPECT_EQ(b.DelayNanos(4 << 20), 0);  // first big frame goes now
  b.Take(4 << 20);
  int64_t wait = b.DelayNanos(1);
  EXPECT_GT(wait, int64_t(3.9e9));  // and the next waits for the debt
  EXPECT_LT(wait, int64_t(4.3e9));
}

TEST(RateLimitTest, TighterOfDiskAndAgentWins) {
  ManualClock clock;
  TokenBucket disk(50'000'000, 0, &clock);
  TokenBucket agent(5'000'000, 0, &clock);
  double s = SendAll({&disk, &agent}, &clock, 50, 1'000'000);
  EXPECT_NEAR(s, (50e6 - 1.25e6) / 5e6, 0.3);
  TokenBucket unlimited(0, 0, &clock);
  EXPECT_EQ(SendAll({&unlimited, nullptr}, &clock, 1000, 1 << 20), 0.0);
}

TEST(RateLimitTest, IdleTimeDoesNotBankMoreThanTheBurst) {
  ManualClock clock;
  TokenBucket b(1'000'000, 100'000, &clock);
  clock.Advance(3600LL * kNanosPerSecond);
  b.Take(100'000);
  EXPECT_EQ(b.DelayNanos(1), 0);
  b.Take(100'000);
  EXPECT_GT(b.DelayNanos(1), 0);
}

TEST(RateLimitTest, AcquireSleepsOnTheRealClock) {
  TokenBucket b(10'000'000, 10'000);  // system clock
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) AcquireBandwidth({&b}, 200'000);  // 1.2 MB at 10 MB/s
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(s, 0.09);
  EXPECT_LT(s, 0.5);
}

}  // namespace
}  // namespace lifeline::wire
