// BIRD 2 configuration for one lab router, generated from the lab plan: eBGP/iBGP sessions
// with the model's ASNs and timers, BFD, local preference on import, prefix announcements.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "lab/lab_plan.h"

namespace lifeline::lab {

struct BirdPaths {
  std::string log_file;  // empty = no log file
};

// The full configuration text for `bird -c`. Timers lowered for a lab: reconnect within a few
// seconds after an error (BIRD's default error wait time is 60 s).
std::string RenderBirdConfig(const RouterConfig& r, const BirdPaths& paths = {});

}  // namespace lifeline::lab
