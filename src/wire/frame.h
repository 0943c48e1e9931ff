// Replication frames: a fixed 32-byte header (magic, version, type, flags, payload length,
// data offset, payload checksum, header checksum) followed by the payload: the message's
// fields, then its bulk data (WRITE bytes). The payload checksum hashes the bulk data
// once, so a sender that already hashed a raw block for the end-to-end check does not
// hash it again, and the receiver learns that hash for free. Specified in
// docs/formats/wire.md. FrameDecoder is an incremental state machine with no I/O.
// All types are thread-compatible (one owner at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline::wire {

inline constexpr uint32_t kFrameMagic = 0x574C4C46;  // "FLLW" little-endian: 46 4C 4C 57
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 32;
// Largest payload any peer may send. A WRITE carries at most kMaxWriteDataBytes of data;
// the rest is room for the message's own fields. Decoders may be configured lower.
inline constexpr uint32_t kMaxWriteDataBytes = 4u << 20;
inline constexpr uint32_t kMaxPayloadBytes = kMaxWriteDataBytes + 64 * 1024;

enum class FrameType : uint8_t {
  kHello = 1,
  kHelloOk = 2,
  kError = 3,
  kWrite = 4,
  kAck = 5,
  kPoint = 6,
  kHeartbeat = 7,
  kHashRequest = 8,
  kHashReply = 9,
  kDiskInfo = 10,
  kGroupHold = 11,      // vault -> agent: hold write completions for a group point
  kGroupHeld = 12,      // agent -> vault: held (or not), at which seq
  kGroupRelease = 13,   // vault -> agent: end the hold
  kGroupReleased = 14,  // agent -> vault: whether the hold was still in force
};
inline constexpr uint8_t kMaxFrameType = 14;
std::string_view FrameTypeName(FrameType type);

// A received frame: the header fields that matter to callers and the verified payload.
struct Frame {
  FrameType type = FrameType::kHeartbeat;
  uint16_t flags = 0;
  uint32_t data_offset = 0;  // payload bytes before the bulk data
  uint64_t data_xxh3 = 0;    // XXH3-64 of payload[data_offset..], verified
  std::string payload;
};

// The payload checksum: XXH3-64 over the fields followed by the little-endian XXH3-64 of
// the bulk data.
uint64_t PayloadChecksum(std::string_view fields, uint64_t data_xxh3);

// A frame ready to send: `head` holds the 32-byte header and the message's own fields;
// `data` (optional) is the bulk tail, shared so that a sender can keep the same bytes in
// its resend buffer without a copy. The wire bytes are head followed by *data.
struct OutFrame {
  std::string head;
  std::shared_ptr<const std::string> data;
  FrameType type() const { return FrameType(uint8_t(head[5])); }
  size_t size() const { return head.size() + (data ? data->size() : 0); }
};

// Builds a frame from a type, flags and a payload given in two pieces (fields, then bulk
// data): computes the checksums without joining the pieces. `data_xxh3`, when given, is
// the caller's XXH3-64 of *data (not recomputed). REQUIRES: total payload size <=
// kMaxPayloadBytes (callers validate sizes first; this is checked).
OutFrame MakeFrame(FrameType type, uint16_t flags, std::string fields,
                   std::shared_ptr<const std::string> data = nullptr,
                   const uint64_t* data_xxh3 = nullptr);

// Serializes an OutFrame into one contiguous string (tests, fuzz seeds, small frames).
std::string Flatten(const OutFrame& frame);

// Incremental decoder: feed bytes in any chunking, get whole verified frames. After the
// first error the decoder stays broken (the stream cannot be resynchronised: the
// connection must be closed). Two ways to feed it:
//  - Feed(bytes, &frames): copies from a caller buffer (fuzzing, tests);
//  - Next() / Advance(n): zero-copy, the caller reads straight into Next() (sockets).
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_payload_bytes = kMaxPayloadBytes);

  // Space for the next bytes of the stream; never empty while ok().
  MutableByteSpan Next();
  // Records that `n` bytes were written at Next(). Returns true when a frame is complete
  // (take it with TakeFrame() before the next call), false when more bytes are needed,
  // or Corruption.
  Result<bool> Advance(size_t n);
  Frame TakeFrame();

  Status Feed(ByteSpan input, std::vector<Frame>* frames);
  // Call at end of stream: Corruption if it ended inside a frame.
  Status Finish() const;

  bool ok() const { return error_.ok(); }
  const Status& error() const { return error_; }
  bool at_frame_boundary() const { return state_ == State::kHeader && got_ == 0; }
  uint64_t frames_decoded() const { return frames_decoded_; }

 private:
  enum class State { kHeader, kPayload, kReady };
  Status ParseHeader();
  Status Fail(Status s);

  uint32_t max_payload_bytes_;
  State state_ = State::kHeader;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t got_ = 0;  // bytes of the current header or payload received
  uint64_t payload_xxh3_ = 0;
  Frame frame_;
  Status error_;
  uint64_t frames_decoded_ = 0;
};

}  // namespace lifeline::wire
