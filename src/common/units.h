// Parsing and formatting of times, durations and byte sizes for the CLI, the API and config
// files. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline {

// "2026-11-23T10:00:00Z" (UTC, optional .fraction) or unix seconds ("1763892000").
Result<int64_t> ParseTime(std::string_view text);
std::string FormatTime(int64_t unix_ns);  // ISO 8601 UTC with milliseconds

// "90s", "15m", "24h", "7d", or plain seconds.
Result<int64_t> ParseDurationSeconds(std::string_view text);
std::string FormatDuration(double seconds);  // "1h 02m", "4.2 s", "350 ms"

// "4096", "64K", "64KiB", "10M", "2G", "1T" (binary multiples).
Result<uint64_t> ParseBytes(std::string_view text);
std::string FormatBytes(double bytes);  // "1.50 GiB"

}  // namespace lifeline
