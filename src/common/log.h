// Logging: a thin facade over spdlog so that widely included headers stay light.
// Thread-safe. Messages go to stderr; the level comes from LIFELINE_LOG (debug, info,
// warn, error, off; default warn for client commands, info for daemons).
#pragma once

#include <string_view>

namespace lifeline::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

void SetLevel(Level level);
void SetLevelFromEnv(Level fallback);
void Write(Level level, std::string_view component, std::string_view message);

inline void Debug(std::string_view c, std::string_view m) { Write(Level::kDebug, c, m); }
inline void Info(std::string_view c, std::string_view m) { Write(Level::kInfo, c, m); }
inline void Warn(std::string_view c, std::string_view m) { Write(Level::kWarn, c, m); }
inline void Error(std::string_view c, std::string_view m) { Write(Level::kError, c, m); }

}  // namespace lifeline::log
