// The dirty bitmap decoder never crashes on any bytes, and whatever it accepts re-encodes
// to the same bytes. The first input byte picks a mode: odd = reseal the trailing checksum
// first, so the fuzzer explores the fields behind it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/dirty_bitmap.h"
#include "common/checksum.h"

using namespace lifeline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  bool reseal = data[0] & 1;
  std::string s(reinterpret_cast<const char*>(data + 1), size - 1);
  if (reseal && s.size() >= 8) {
    auto* p = reinterpret_cast<uint8_t*>(s.data());
    PutLE64(p + s.size() - 8, Xxh3(p, s.size() - 8));
  }
  auto d = agent::DecodeDirtyBitmap(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  if (d.ok() && agent::EncodeDirtyBitmap(*d) != s) std::abort();
  return 0;
}
