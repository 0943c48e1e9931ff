// The spill record decoder never crashes on any bytes, never reads past its input, and
// what it accepts matches the lengths it reports. The first input byte picks a mode:
// odd = reseal the trailing checksum first (over the whole input), so the fuzzer explores
// the fields behind it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/spill.h"
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
  agent::CaptureRecord r;
  auto n =
      agent::DecodeSpillRecord(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()), &r);
  if (!n.ok()) return 0;
  if (*n > s.size() || *n != agent::SpillFile::EncodedBytes(r)) std::abort();
  if (r.data && r.data->size() != r.length) std::abort();
  return 0;
}
