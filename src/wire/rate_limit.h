// Token-bucket bandwidth limits: one bucket per disk (shared by its streams) and one per
// agent; a send takes tokens from every bucket that applies. Large frames may borrow
// (the bucket goes negative) so a frame bigger than the burst still passes, and the debt
// delays the next one: the long-run rate stays exact.
// TokenBucket is thread-safe; the clock is injected so tests run in virtual time.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>

#include "common/clock.h"

namespace lifeline::wire {

class TokenBucket {
 public:
  // rate_bytes_per_s == 0 means unlimited. burst_bytes defaults to 1/4 s of traffic.
  explicit TokenBucket(uint64_t rate_bytes_per_s, uint64_t burst_bytes = 0,
                       const Clock* clock = Clock::System());
  void SetRate(uint64_t rate_bytes_per_s, uint64_t burst_bytes = 0);
  uint64_t rate_bytes_per_s() const;

  // Nanoseconds to wait before `bytes` may be sent (0: now). Does not take tokens.
  int64_t DelayNanos(uint64_t bytes);
  // Takes `bytes` tokens (possibly into debt). Call when DelayNanos() returned 0.
  void Take(uint64_t bytes);

 private:
  void Refill();
  const Clock* clock_;
  mutable std::mutex mu_;
  uint64_t rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  int64_t last_ns_ = 0;
};

// Waits (sleeping on the real clock) until every bucket allows `bytes`, then takes them
// from all. Buckets may be null (no limit at that level).
void AcquireBandwidth(std::initializer_list<TokenBucket*> buckets, uint64_t bytes);
// The delay AcquireBandwidth would sleep now (virtual-time tests), without taking.
int64_t BandwidthDelayNanos(std::initializer_list<TokenBucket*> buckets, uint64_t bytes);

}  // namespace lifeline::wire
