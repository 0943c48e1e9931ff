#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/units.h"

namespace lifeline::cli {

ProgressBar::ProgressBar(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      total_(total_bytes),
      enabled_(enabled),
      tty_(::isatty(2) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::Update(uint64_t done) {
  if (!enabled_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - start_).count();
  double pct = total_ ? 100.0 * double(done) / double(total_) : 100.0;
  double rate = secs > 0 ? double(done) / secs : 0;
  double eta = rate > 0 ? double(total_ - std::min(done, total_)) / rate : 0;
  if (tty_) {
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    int filled = int(pct / 5);
    std::fprintf(stderr, "\r%s [%-20s] %5.1f%% %s of %s, %s/s, ETA %s   ", label_.c_str(),
                 std::string(size_t(filled), '#').c_str(), pct, FormatBytes(double(done)).c_str(),
                 FormatBytes(double(total_)).c_str(), FormatBytes(rate).c_str(), FormatDuration(eta).c_str());
  } else {
    int decile = int(pct / 10);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s: %3.0f%% %s of %s, %s/s\n", label_.c_str(), pct, FormatBytes(double(done)).c_str(),
                 FormatBytes(double(total_)).c_str(), FormatBytes(rate).c_str());
  }
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  Update(total_);
  finished_ = true;
  if (tty_) std::fputc('\n', stderr);
}

}  // namespace lifeline::cli
