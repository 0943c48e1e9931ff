#include "wire/rate_limit.h"

#include <algorithm>
#include <thread>

namespace lifeline::wire {

TokenBucket::TokenBucket(uint64_t rate_bytes_per_s, uint64_t burst_bytes, const Clock* clock)
    : clock_(clock) {
  SetRate(rate_bytes_per_s, burst_bytes);
  last_ns_ = clock_->MonotonicNanos();
  tokens_ = burst_;
}

void TokenBucket::SetRate(uint64_t rate_bytes_per_s, uint64_t burst_bytes) {
  std::lock_guard<std::mutex> l(mu_);
  rate_ = rate_bytes_per_s;
  burst_ = double(burst_bytes ? burst_bytes : std::max<uint64_t>(rate_ / 4, 64 * 1024));
  tokens_ = std::min(tokens_, burst_);
}

uint64_t TokenBucket::rate_bytes_per_s() const {
  std::lock_guard<std::mutex> l(mu_);
  return rate_;
}

void TokenBucket::Refill() {
  int64_t now = clock_->MonotonicNanos();
  if (now > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + double(rate_) * double(now - last_ns_) / 1e9);
    last_ns_ = now;
  }
}

int64_t TokenBucket::DelayNanos(uint64_t bytes) {
  (void)bytes;  // a send may borrow: it only waits for the previous debt to be repaid
  std::lock_guard<std::mutex> l(mu_);
  if (rate_ == 0) return 0;
  Refill();
  if (tokens_ >= 0) return 0;
  return int64_t(-tokens_ * 1e9 / double(rate_)) + 1;
}

void TokenBucket::Take(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  if (rate_ == 0) return;
  Refill();
  tokens_ -= double(bytes);
}

int64_t BandwidthDelayNanos(std::initializer_list<TokenBucket*> buckets, uint64_t bytes) {
  int64_t wait = 0;
  for (TokenBucket* b : buckets)
    if (b) wait = std::max(wait, b->DelayNanos(bytes));
  return wait;
}

void AcquireBandwidth(std::initializer_list<TokenBucket*> buckets, uint64_t bytes) {
  for (;;) {
    int64_t wait = BandwidthDelayNanos(buckets, bytes);
    if (wait <= 0) break;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(wait, 100'000'000)));
  }
  for (TokenBucket* b : buckets)
    if (b) b->Take(bytes);
}

}  // namespace lifeline::wire
