// Tolerant line parser: unknown codes and malformed rows are skipped, never fatal, because
// the lab reads live routers whose output can be cut short.
#include "lab/birdc_parser.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace lifeline::lab {
namespace {

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool IsCode(std::string_view line) {
  if (line.size() < 5) return false;
  for (int i = 0; i < 4; ++i)
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return false;
  return line[4] == '-' || line[4] == ' ';
}

bool LooksLikePrefix(const std::string& w) {
  return !w.empty() && (std::isxdigit(static_cast<unsigned char>(w[0])) || w[0] == ':') &&
         w.find('/') != std::string::npos;
}

}  // namespace

std::vector<BirdReplyLine> ParseBirdReply(std::string_view text) {
  std::vector<BirdReplyLine> out;
  int code = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsCode(line)) {
      code = std::atoi(std::string(line.substr(0, 4)).c_str());
      out.push_back({code, std::string(line.substr(5))});
    } else if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && code >= 0) {
      out.push_back({code, std::string(line.substr(1))});
    }
  }
  return out;
}

std::vector<BirdProtocol> ParseProtocols(std::string_view text) {
  std::vector<BirdProtocol> out;
  for (const auto& l : ParseBirdReply(text)) {
    if (l.code != 1002) continue;
    auto w = Split(l.text);
    if (w.size() < 4) continue;
    BirdProtocol p{w[0], w[1], w[2], w[3], "", ""};
    size_t i = 4;
    // Since: "2026-11-23 08:41:55" (iso long) or one token.
    if (i < w.size()) p.since = w[i++];
    if (i < w.size() && p.since.find('-') != std::string::npos &&
        w[i].find(':') != std::string::npos)
      p.since += " " + w[i++];
    for (; i < w.size(); ++i) p.info += (p.info.empty() ? "" : " ") + w[i];
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<BirdBfdSession> ParseBfdSessions(std::string_view text) {
  std::vector<BirdBfdSession> out;
  for (const auto& l : ParseBirdReply(text)) {
    if (l.code != 1020) continue;
    auto w = Split(l.text);
    if (w.size() < 5 || w[0] == "IP" || w[0].back() == ':') continue;
    BirdBfdSession b;
    b.address = w[0];
    b.interface = w[1];
    b.state = w[2];
    // Since may be one or two tokens; interval and timeout are the last two.
    b.interval_s = std::atof(w[w.size() - 2].c_str());
    b.timeout_s = std::atof(w[w.size() - 1].c_str());
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BirdRoute> ParseRoutes(std::string_view text) {
  std::vector<BirdRoute> out;
  std::string current_prefix;
  for (const auto& l : ParseBirdReply(text)) {
    if (l.code != 1007) continue;
    auto w = Split(l.text);
    if (w.empty()) continue;
    if (w[0] == "via" && !out.empty()) {
      if (w.size() >= 2) out.back().via = w[1];
      if (w.size() >= 4 && w[2] == "on") out.back().interface = w[3];
      continue;
    }
    if (w[0] == "Table") continue;
    size_t i = 0;
    BirdRoute r;
    if (LooksLikePrefix(w[0])) {
      current_prefix = w[0];
      ++i;
    } else if (w[0][0] != '[' && (w.size() < 2 || w[1][0] != '[')) {
      continue;
    }
    if (current_prefix.empty()) continue;
    r.prefix = current_prefix;
    if (i < w.size() && w[i][0] != '[') r.type = w[i++];
    if (i < w.size() && w[i][0] == '[') {
      r.protocol = w[i].substr(1);
      if (!r.protocol.empty() && r.protocol.back() == ']') r.protocol.pop_back();
      ++i;
    }
    for (; i < w.size(); ++i) {
      if (w[i] == "*")
        r.best = true;
      else if (w[i].size() > 2 && w[i][0] == '(')
        r.preference = std::atoi(w[i].c_str() + 1);
      else if (w[i].rfind("[AS", 0) == 0)
        r.source_bgp = true;
    }
    if (r.protocol.empty()) continue;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace lifeline::lab
