// Decoding untrusted on-disk bytes of the replica store never crashes: manifest files
// (header + JSON body) and journal record / segment headers.
#include <cstdint>
#include <string_view>

#include "store/format.h"
#include "store/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  using namespace lifeline::store;
  switch (data[0] % 3) {
    case 0: {
      auto m = DecodeManifest(rest, "fuzz");
      if (m.ok()) (void)EncodeManifest(*m);
      break;
    }
    case 1: {
      // A manifest with a valid header around arbitrary JSON: exercises the field checks.
      (void)DecodeManifest(EncodeManifestFile(rest), "fuzz");
      break;
    }
    case 2: {
      if (rest.size() < kRecordHeaderSize) break;
      RecordHeader h;
      (void)DecodeRecordHeader(reinterpret_cast<const uint8_t*>(rest.data()), &h);
      SegmentHeader sh;
      (void)DecodeSegmentHeader(reinterpret_cast<const uint8_t*>(rest.data()), &sh);
      break;
    }
  }
  return 0;
}
