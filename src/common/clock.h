// Clock interface: wall time for recovery points and monotonic time for timers, injected
// so tests can run a day of retention in a second. SystemClock is thread-safe;
// ManualClock is thread-safe (atomic).
#pragma once

#include <atomic>
#include <cstdint>

namespace lifeline {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixNanos() const = 0;     // wall time
  virtual int64_t MonotonicNanos() const = 0;   // never goes back
  static Clock* System();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_unix_nanos = 1'700'000'000'000'000'000) : now_(start_unix_nanos) {}
  int64_t NowUnixNanos() const override { return now_.load(); }
  int64_t MonotonicNanos() const override { return now_.load(); }
  void Advance(int64_t nanos) { now_ += nanos; }
  void Set(int64_t unix_nanos) { now_ = unix_nanos; }

 private:
  std::atomic<int64_t> now_;
};

constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace lifeline
