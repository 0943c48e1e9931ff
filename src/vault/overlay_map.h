// The overlay map log: which ranges of a point export's copy-on-write overlay hold written
// data or zeros, appended one record per write so the overlay survives a vault restart.
// Format (little endian): "LLOVMAP1", then 21-byte records {u64 offset, u64 length, u8 kind
// (1 data, 2 zeros), u32 xxh32 of the 17 bytes before}. A torn or damaged tail ends the log.
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lifeline::vault {

constexpr char kOverlayMapMagic[] = "LLOVMAP1";
constexpr size_t kOverlayMapHeaderBytes = 8;
constexpr size_t kOverlayMapRecordBytes = 21;

struct OverlayMapEntry {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t kind = 0;  // 1 data, 2 zeros
};

std::string EncodeOverlayMapRecord(const OverlayMapEntry& entry);

struct DecodedOverlayMap {
  std::vector<OverlayMapEntry> entries;  // in log order (later ones win)
  size_t valid_bytes = 0;                // header + the records before any damage
  bool torn = false;                     // bytes after valid_bytes were dropped
};

// Corruption when the header is missing or wrong. Records past `disk_bytes`, with an unknown
// kind, zero length or a bad checksum end the log (as a torn tail does).
Result<DecodedOverlayMap> DecodeOverlayMap(std::string_view data, uint64_t disk_bytes);

}  // namespace lifeline::vault
