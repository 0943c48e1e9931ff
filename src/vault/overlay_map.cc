// The overlay map log codec (overlay_map.h).
#include "vault/overlay_map.h"

#include <cstring>

#include "common/bytes.h"
#include "common/checksum.h"

namespace lifeline::vault {

std::string EncodeOverlayMapRecord(const OverlayMapEntry& e) {
  uint8_t b[kOverlayMapRecordBytes];
  PutLE64(b, e.offset);
  PutLE64(b + 8, e.length);
  b[16] = e.kind;
  PutLE32(b + 17, Xxh32(b, 17));
  return std::string(reinterpret_cast<const char*>(b), sizeof b);
}

Result<DecodedOverlayMap> DecodeOverlayMap(std::string_view data, uint64_t disk_bytes) {
  if (data.size() < kOverlayMapHeaderBytes ||
      std::memcmp(data.data(), kOverlayMapMagic, kOverlayMapHeaderBytes) != 0)
    return Status::Corruption("overlay map: missing header " + std::string(kOverlayMapMagic));
  DecodedOverlayMap out;
  size_t pos = kOverlayMapHeaderBytes;
  while (pos + kOverlayMapRecordBytes <= data.size()) {
    const auto* b = reinterpret_cast<const uint8_t*>(data.data() + pos);
    OverlayMapEntry e{GetLE64(b), GetLE64(b + 8), b[16]};
    if (GetLE32(b + 17) != Xxh32(b, 17)) break;
    if ((e.kind != 1 && e.kind != 2) || e.length == 0 || e.offset > disk_bytes ||
        e.length > disk_bytes - e.offset)
      break;
    out.entries.push_back(e);
    pos += kOverlayMapRecordBytes;
  }
  out.valid_bytes = pos;
  out.torn = pos != data.size();
  return out;
}

}  // namespace lifeline::vault
