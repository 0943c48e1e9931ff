// Parsing birdc replies (sessions, BFD, routes) never crashes, whatever a router prints.
#include <cstdint>
#include <string_view>

#include "lab/birdc_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace lifeline::lab;
  (void)ParseBirdReply(text);
  (void)ParseProtocols(text);
  (void)ParseBfdSessions(text);
  (void)ParseRoutes(text);
  return 0;
}
