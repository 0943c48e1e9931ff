// Parsing an untrusted topology file never crashes, and whatever parses can be checked,
// routed, simulated and planned without crashing either.
#include <cstdint>
#include <string_view>

#include "net/check.h"
#include "net/plan.h"
#include "net/routes.h"
#include "net/simulate.h"
#include "net/topology_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifeline::net;
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = ParseTopology(text, "fuzz.yaml");
  if (!t.ok()) return 0;
  TopologyIndex idx(*t);
  (void)RunChecks(CheckContext{*t, idx});
  FailureSet none;
  RouteComputer rc(idx, none);
  (void)rc.AllVnetTables();
  auto elements = AllElements(*t);
  if (!elements.empty() && elements.size() < 64)
    (void)Simulate(idx, {elements[size % elements.size()]});
  (void)MakePlan(idx);
  return 0;
}
