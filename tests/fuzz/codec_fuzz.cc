// Decoding untrusted compressed payloads never crashes, whatever the bytes.
#include <cstdint>
#include <string>

#include "common/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  auto codec = static_cast<lifeline::Codec>(data[0] % 3);
  size_t raw_size = (size_t(data[1]) << 8 | data[2]) + 1;
  std::string out(raw_size, '\0');
  std::string_view payload(reinterpret_cast<const char*>(data + 3), size - 3);
  (void)lifeline::Decompress(codec, payload, out.data(), raw_size);
  return 0;
}
