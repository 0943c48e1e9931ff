// The PINS file codec (pins.h).
#include "store/pins.h"

#include <charconv>

namespace lifeline::store {
namespace {
constexpr std::string_view kHeader = "lifeline-pins 1\n";
}

bool ValidPinName(std::string_view name) {
  if (name.empty() || name.size() > kMaxPinNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string EncodePins(const PinMap& pins) {
  std::string out(kHeader);
  for (const auto& [name, seq] : pins) out += std::to_string(seq) + " " + name + "\n";
  return out;
}

Result<PinMap> DecodePins(std::string_view text) {
  if (text.substr(0, kHeader.size()) != kHeader)
    return Status::Corruption("pins file: missing header 'lifeline-pins 1'");
  text.remove_prefix(kHeader.size());
  PinMap pins;
  size_t line_no = 1;
  while (!text.empty()) {
    ++line_no;
    size_t eol = text.find('\n');
    if (eol == std::string_view::npos)
      return Status::Corruption("pins file: line " + std::to_string(line_no) + " is not terminated");
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    size_t sp = line.find(' ');
    uint64_t seq = 0;
    if (sp == std::string_view::npos || sp == 0)
      return Status::Corruption("pins file: line " + std::to_string(line_no) + " is not 'SEQ NAME'");
    auto [end, ec] = std::from_chars(line.data(), line.data() + sp, seq);
    if (ec != std::errc() || end != line.data() + sp)
      return Status::Corruption("pins file: bad seq on line " + std::to_string(line_no));
    std::string_view name = line.substr(sp + 1);
    if (!ValidPinName(name))
      return Status::Corruption("pins file: bad pin name on line " + std::to_string(line_no));
    if (!pins.emplace(std::string(name), seq).second)
      return Status::Corruption("pins file: duplicate pin on line " + std::to_string(line_no));
    if (pins.size() > kMaxPins) return Status::Corruption("pins file: more than 1024 pins");
  }
  return pins;
}

}  // namespace lifeline::store
