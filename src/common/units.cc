#include "common/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace lifeline {
namespace {
bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}
Result<uint64_t> ParseUnsigned(std::string_view s, std::string_view what) {
  if (!AllDigits(s) || s.size() > 18) return Status::InvalidArgument("'" + std::string(s) + "' is not a valid " + std::string(what));
  uint64_t v = 0;
  for (char c : s) v = v * 10 + uint64_t(c - '0');
  return v;
}
// Nanoseconds since 1970 in an int64_t reach 2262-04-11.
constexpr uint64_t kMaxUnixSeconds = 9'223'372'035;
}  // namespace

Result<int64_t> ParseTime(std::string_view text) {
  if (AllDigits(text)) {
    LL_ASSIGN_OR_RETURN(uint64_t secs, ParseUnsigned(text, "time"));
    if (secs > kMaxUnixSeconds)
      return Status::InvalidArgument("time '" + std::string(text) + "' is after 2262, the last time lifeline can hold");
    return int64_t(secs) * 1'000'000'000;
  }
  std::tm tm{};
  int y, mo, d, h, mi;
  double s;
  char tail[8] = {0};
  std::string str(text);
  int n = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%7s", &y, &mo, &d, &h, &mi, &s, tail);
  if (n < 6 || (n == 7 && std::string(tail) != "Z"))
    return Status::InvalidArgument("time '" + str + "' is not ISO 8601 UTC (2026-11-23T10:00:00Z) or unix seconds");
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s < 0 || s >= 61)
    return Status::InvalidArgument("time '" + str + "' has a field out of range");
  if (y < 1970 || y > 2261)
    return Status::InvalidArgument("time '" + str + "' is outside 1970 to 2261, the times lifeline can hold");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  time_t t = timegm(&tm);
  return int64_t(t) * 1'000'000'000 + int64_t(std::llround(s * 1e9));
}

std::string FormatTime(int64_t unix_ns) {
  time_t secs = time_t(unix_ns / 1'000'000'000);
  int ms = int((unix_ns % 1'000'000'000) / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  int64_t mult = 1;
  std::string_view num = text;
  switch (text.back()) {
    case 's': mult = 1; num.remove_suffix(1); break;
    case 'm': mult = 60; num.remove_suffix(1); break;
    case 'h': mult = 3600; num.remove_suffix(1); break;
    case 'd': mult = 86400; num.remove_suffix(1); break;
    default: break;
  }
  auto v = ParseUnsigned(num, "duration");
  if (!v.ok())
    return Status::InvalidArgument("duration '" + std::string(text) + "' is not valid: use 90s, 15m, 24h or 7d");
  return int64_t(*v) * mult;
}

std::string FormatDuration(double seconds) {
  char buf[48];
  if (seconds < 1) std::snprintf(buf, sizeof buf, "%.0f ms", seconds * 1000);
  else if (seconds < 60) std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else if (seconds < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(seconds) / 60, int(seconds) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(seconds) / 3600, (int(seconds) / 60) % 60);
  return buf;
}

Result<uint64_t> ParseBytes(std::string_view text) {
  std::string_view num = text;
  uint64_t mult = 1;
  if (num.ends_with("iB")) num.remove_suffix(2);
  else if (num.ends_with("B") && num.size() > 1 && !std::isdigit(static_cast<unsigned char>(num[num.size() - 2]))) num.remove_suffix(1);
  if (!num.empty()) {
    switch (std::toupper(static_cast<unsigned char>(num.back()))) {
      case 'K': mult = 1ull << 10; num.remove_suffix(1); break;
      case 'M': mult = 1ull << 20; num.remove_suffix(1); break;
      case 'G': mult = 1ull << 30; num.remove_suffix(1); break;
      case 'T': mult = 1ull << 40; num.remove_suffix(1); break;
      default: break;
    }
  }
  auto v = ParseUnsigned(num, "size");
  if (!v.ok() || *v > (UINT64_MAX / mult))
    return Status::InvalidArgument("size '" + std::string(text) + "' is not valid: use 4096, 64K, 10M, 2G");
  return *v * mult;
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

}  // namespace lifeline
