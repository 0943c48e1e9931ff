// Parses BIRD 2.0 control replies as `birdc -v` prints them: each line starts with a 4-digit
// reply code and '-' or ' ', or with a space when it continues the previous code. BIRD 2.0
// has no JSON output; the reply codes are the stable interface. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lifeline::lab {

struct BirdReplyLine {
  int code = 0;      // the code in force for this line (continuations inherit it)
  std::string text;  // the line without code and separator
};
// Splits a reply into lines with their codes. Lines before the first code are dropped.
std::vector<BirdReplyLine> ParseBirdReply(std::string_view text);

struct BirdProtocol {
  std::string name, proto, table, state, since, info;
};
// `show protocols` (code 1002). Rows that do not have at least 4 columns are skipped.
std::vector<BirdProtocol> ParseProtocols(std::string_view text);

struct BirdBfdSession {
  std::string address, interface, state;
  double interval_s = 0;
  double timeout_s = 0;
};
// `show bfd sessions` (code 1020).
std::vector<BirdBfdSession> ParseBfdSessions(std::string_view text);

struct BirdRoute {
  std::string prefix;
  std::string type;      // unicast, blackhole, unreachable, ...
  std::string protocol;  // the protocol that supplied it
  bool best = false;     // marked '*'
  int preference = 0;
  bool source_bgp = false;  // has an AS path column ([AS...])
  std::string via;          // next hop address, "" for blackhole
  std::string interface;
};
// `show route` (code 1007). A line starting with a prefix opens a route; a line starting with
// a protocol in brackets is another route for the previous prefix; "via" lines attach.
std::vector<BirdRoute> ParseRoutes(std::string_view text);

}  // namespace lifeline::lab
