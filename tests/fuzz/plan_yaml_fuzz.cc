// Parsing untrusted recovery-plan YAML never crashes, whatever the bytes; a plan that
// parses also turns into a job for every operation and survives a JSON round trip.
#include <cstdint>
#include <string_view>

#include "control/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  lifeline::control::PlanParseResult r = lifeline::control::ParsePlanYaml(yaml, "fuzz.yaml");
  if (r.plan) {
    for (auto op : {lifeline::control::Operation::kDrill, lifeline::control::Operation::kFailover,
                    lifeline::control::Operation::kFailback}) {
      (void)lifeline::control::BuildPlanJob(*r.plan, op);
    }
    (void)lifeline::control::PlanToJson(*r.plan).dump();
  } else {
    (void)r.IssuesText("fuzz.yaml");
  }
  return 0;
}
