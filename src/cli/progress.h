// A progress bar on stderr for long work: percent, bytes, rate and ETA. On a terminal it
// redraws one line; otherwise it prints a line every 10%. Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lifeline::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total_bytes, bool enabled = true);
  void Update(uint64_t done_bytes);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool finished_ = false;
};

}  // namespace lifeline::cli
