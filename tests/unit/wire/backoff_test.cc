// Reconnect policy: next address first, then capped exponential backoff with jitter.
#include "wire/backoff.h"

#include <gtest/gtest.h>

namespace lifeline::wire {
namespace {

TEST(BackoffTest, GrowsExponentiallyUpToTheCapWithBoundedJitter) {
  Backoff b(100, 2000, 2.0, 0.2, /*seed=*/42);
  int64_t expected[] = {100, 200, 400, 800, 1600, 2000, 2000, 2000};
  for (int64_t e : expected) {
    int64_t d = b.NextDelayMs();
    EXPECT_GE(d, int64_t(e * 0.8)) << "expected about " << e;
    EXPECT_LE(d, std::min<int64_t>(2000, int64_t(e * 1.2)));
  }
  b.Reset();
  EXPECT_LE(b.NextDelayMs(), 120);
}

TEST(BackoffTest, SameSeedSameDelays) {
  Backoff a(100, 5000, 2.0, 0.5, 7), b(100, 5000, 2.0, 0.5, 7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.NextDelayMs(), b.NextDelayMs());
}

TEST(BackoffTest, ReconnectTriesTheNextAddressFirst) {
  Reconnector r(3, Backoff(100, 1000, 2.0, 0.0, 1));
  EXPECT_EQ(r.current(), 0u);
  ReconnectAttempt a = r.OnFailure();  // 0 failed: try 1 at once
  EXPECT_EQ(a.address_index, 1u);
  EXPECT_EQ(a.delay_ms, 0);
  a = r.OnFailure();  // 1 failed: 2 at once
  EXPECT_EQ(a.address_index, 2u);
  EXPECT_EQ(a.delay_ms, 0);
  a = r.OnFailure();  // a full round failed: back off, then 0
  EXPECT_EQ(a.address_index, 0u);
  EXPECT_EQ(a.delay_ms, 100);
  r.OnFailure();
  r.OnFailure();
  a = r.OnFailure();
  EXPECT_EQ(a.delay_ms, 200);  // second full round: doubled
  r.OnConnected();
  size_t connected_on = r.current();
  a = r.OnFailure();  // lost the link: the next address, immediately
  EXPECT_EQ(a.address_index, (connected_on + 1) % 3);
  EXPECT_EQ(a.delay_ms, 0);
}

TEST(BackoffTest, SingleAddressBacksOffEveryTime) {
  Reconnector r(1, Backoff(50, 400, 2.0, 0.0, 1));
  EXPECT_EQ(r.OnFailure().delay_ms, 50);
  EXPECT_EQ(r.OnFailure().delay_ms, 100);
  EXPECT_EQ(r.OnFailure().address_index, 0u);
}

}  // namespace
}  // namespace lifeline::wire
