// Fuzzes the codecs that bring recovery state back after a restart: the replica's PINS file
// (store/pins.h), the overlay map log (vault/overlay_map.h) and the network driver spec
// (vault/network_drivers.h). Any input gives a value or a clean error, never a crash; a
// decoded value encodes back to what decodes to the same value.
#include <cstdint>
#include <string>

#include "store/pins.h"
#include "vault/network_drivers.h"
#include "vault/overlay_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto pins = lifeline::store::DecodePins(in); pins.ok()) {
    auto again = lifeline::store::DecodePins(lifeline::store::EncodePins(*pins));
    if (!again.ok() || *again != *pins) __builtin_trap();
  }
  if (auto map = lifeline::vault::DecodeOverlayMap(in, 1 << 20); map.ok()) {
    if (map->valid_bytes > size) __builtin_trap();
    for (const auto& e : map->entries)
      if (e.length == 0 || e.offset + e.length > (1u << 20)) __builtin_trap();
  }
  if (size < 256) (void)lifeline::vault::MakeNetworkDriver(std::string(in));
  return 0;
}
