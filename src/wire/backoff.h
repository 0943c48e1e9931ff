// Reconnect policy: after a failure try the next vault address in the list at once; when
// every address has failed in a row, wait with capped exponential backoff and jitter.
// Seeded randomness so tests replay. Thread-compatible (one owner: the agent's stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

namespace lifeline::wire {

// Capped exponential backoff with +-jitter: initial, initial*m, ... up to max.
class Backoff {
 public:
  Backoff(int64_t initial_ms = 100, int64_t max_ms = 5000, double multiplier = 2.0,
          double jitter = 0.2, uint64_t seed = std::random_device{}());
  int64_t NextDelayMs();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  int64_t initial_ms_, max_ms_;
  double multiplier_, jitter_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

struct ReconnectAttempt {
  size_t address_index = 0;  // which address of the list to try
  int64_t delay_ms = 0;      // wait this long first
};

class Reconnector {
 public:
  explicit Reconnector(size_t address_count, Backoff backoff = Backoff());
  // After a connection to current() failed or was lost: the next attempt.
  ReconnectAttempt OnFailure();
  // A session was established on current(): keep it first and reset the backoff.
  void OnConnected();
  size_t current() const { return current_; }

 private:
  size_t count_;
  size_t current_ = 0;
  size_t failures_in_row_ = 0;
  Backoff backoff_;
};

}  // namespace lifeline::wire
