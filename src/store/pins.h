// Pins of a disk replica: named seqs that retention must keep readable (an export of a point
// reads at its seq for as long as a drill or a failover lasts). The PINS file holds them as
// text, replaced atomically; this is its codec. Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline::store {

constexpr char kPinsFileName[] = "PINS";
constexpr size_t kMaxPins = 1024;
constexpr size_t kMaxPinNameBytes = 200;

using PinMap = std::map<std::string, uint64_t>;  // name -> pinned seq

// A pin name: 1..200 bytes of letters, digits and - _ . / : (no spaces, one line).
bool ValidPinName(std::string_view name);
// "lifeline-pins 1\n" then one "SEQ NAME\n" line per pin.
std::string EncodePins(const PinMap& pins);
// Corruption for anything else (bad header, bad line, duplicate name, too many pins).
Result<PinMap> DecodePins(std::string_view text);

}  // namespace lifeline::store
