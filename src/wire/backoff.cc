#include "wire/backoff.h"

#include <algorithm>
#include <cmath>

namespace lifeline::wire {

Backoff::Backoff(int64_t initial_ms, int64_t max_ms, double multiplier, double jitter,
                 uint64_t seed)
    : initial_ms_(std::max<int64_t>(1, initial_ms)),
      max_ms_(std::max(initial_ms, max_ms)),
      multiplier_(std::max(1.0, multiplier)),
      jitter_(std::clamp(jitter, 0.0, 1.0)),
      rng_(seed) {}

int64_t Backoff::NextDelayMs() {
  double base = double(initial_ms_) * std::pow(multiplier_, std::min(attempt_, 62));
  base = std::min(base, double(max_ms_));
  ++attempt_;
  std::uniform_real_distribution<double> dist(1.0 - jitter_, 1.0 + jitter_);
  // Jitter spreads agents that lost the same vault at the same moment; the cap holds.
  return std::clamp<int64_t>(int64_t(base * dist(rng_)), 1, max_ms_);
}

Reconnector::Reconnector(size_t address_count, Backoff backoff)
    : count_(std::max<size_t>(1, address_count)), backoff_(backoff) {}

ReconnectAttempt Reconnector::OnFailure() {
  ++failures_in_row_;
  current_ = (current_ + 1) % count_;
  ReconnectAttempt a;
  a.address_index = current_;
  // The first failure of each address in a round moves on at once; a full round of
  // failures means the site (or our link) is down: back off before the next round.
  a.delay_ms = (failures_in_row_ % count_ == 0) ? backoff_.NextDelayMs() : 0;
  return a;
}

void Reconnector::OnConnected() {
  failures_in_row_ = 0;
  backoff_.Reset();
}

}  // namespace lifeline::wire
