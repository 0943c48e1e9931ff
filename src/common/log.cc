#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

namespace lifeline::log {
namespace {
std::shared_ptr<spdlog::logger> Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("lifeline");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return logger;
}
spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}
}  // namespace

void SetLevel(Level level) { Logger()->set_level(ToSpd(level)); }

void SetLevelFromEnv(Level fallback) {
  const char* env = std::getenv("LIFELINE_LOG");
  std::string v = env ? env : "";
  if (v == "debug") SetLevel(Level::kDebug);
  else if (v == "info") SetLevel(Level::kInfo);
  else if (v == "warn") SetLevel(Level::kWarn);
  else if (v == "error") SetLevel(Level::kError);
  else if (v == "off") SetLevel(Level::kOff);
  else SetLevel(fallback);
}

void Write(Level level, std::string_view component, std::string_view message) {
  Logger()->log(ToSpd(level), "[{}] {}", component, message);
}

}  // namespace lifeline::log
