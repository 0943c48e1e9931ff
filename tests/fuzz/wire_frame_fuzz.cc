// Untrusted replication bytes never crash the decoder or the message decoders, whatever
// the bytes and however they are chunked; a stream that decodes re-encodes identically.
#include <cstdint>
#include <string>
#include <vector>

#include "wire/frame.h"
#include "wire/messages.h"

using namespace lifeline::wire;

namespace {
void DecodeTyped(const Frame& f) {
  switch (f.type) {
    case FrameType::kHello:
      (void)DecodeHello(f);
      break;
    case FrameType::kHelloOk:
      (void)DecodeHelloOk(f);
      break;
    case FrameType::kError:
      (void)DecodeError(f);
      break;
    case FrameType::kWrite: {
      auto w = DecodeWrite(f);
      if (w.ok() && w->kind == WriteKind::kData) {
        std::string raw;
        (void)ExpandWriteData(*w, &raw);
      }
      break;
    }
    case FrameType::kAck:
      (void)DecodeAck(f);
      break;
    case FrameType::kPoint:
      (void)DecodePoint(f);
      break;
    case FrameType::kHeartbeat:
      (void)DecodeHeartbeat(f);
      break;
    case FrameType::kHashRequest:
      (void)DecodeHashRequest(f);
      break;
    case FrameType::kHashReply:
      (void)DecodeHashReply(f);
      break;
    case FrameType::kDiskInfo:
      (void)DecodeDiskInfo(f);
      break;
    case FrameType::kGroupHold:
      (void)DecodeGroupHold(f);
      break;
    case FrameType::kGroupHeld:
      (void)DecodeGroupHeld(f);
      break;
    case FrameType::kGroupRelease:
      (void)DecodeGroupRelease(f);
      break;
    case FrameType::kGroupReleased:
      (void)DecodeGroupReleased(f);
      break;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  if (mode & 1) {
    // Payload mode: skip the checksums (random bytes rarely pass them) and hand the
    // message decoders an arbitrary payload for the type named by the next byte.
    Frame f;
    f.type = FrameType(1 + data[0] % kMaxFrameType);
    f.payload.assign(reinterpret_cast<const char*>(data + 1), size - 1);
    DecodeTyped(f);
    return 0;
  }
  // Stream mode: the mode byte picks the chunk size, so split headers and payloads get
  // exercised.
  size_t chunk = size_t(mode >> 1) + 1;
  FrameDecoder decoder(1 << 20);  // a lower limit keeps the fuzzer's allocations small
  std::vector<Frame> frames;
  for (size_t pos = 0; pos < size && decoder.ok(); pos += chunk) {
    size_t n = std::min(chunk, size - pos);
    (void)decoder.Feed({data + pos, n}, &frames);
  }
  (void)decoder.Finish();
  for (const Frame& f : frames) DecodeTyped(f);
  return 0;
}
