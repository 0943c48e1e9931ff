// `lab probe`: a UDP packet stream from one namespace to an echo responder in another,
// measuring how long the flow was black-holed (the longest run of lost probes). The
// responder runs in a forked child that enters the target namespace. Blocking; one probe per
// process at a time (it switches the calling thread's network namespace briefly).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace lifeline::lab {

struct ProbeOptions {
  std::string from_ns;
  std::string to_ns;
  std::string to_address;
  double duration_s = 10;
  int interval_ms = 1;
  uint16_t port = 47007;
  // Called once, on its own thread, `action_after_s` into the stream (e.g. inject a failure).
  std::function<void()> action;
  double action_after_s = 2;
};

struct ProbeResult {
  int64_t sent = 0;
  int64_t received = 0;
  double longest_outage_s = 0;  // longest span without an answered probe
  double outage_start_s = 0;    // when it began, from the start of the stream
  double action_at_s = 0;       // when the action ran
  int64_t lost = 0;
};

Result<ProbeResult> RunProbe(const ProbeOptions& o);

}  // namespace lifeline::lab
