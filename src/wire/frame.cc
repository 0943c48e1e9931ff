#include "wire/frame.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/checksum.h"

namespace lifeline::wire {

namespace {
// Header field offsets (docs/formats/wire.md).
constexpr size_t kOffMagic = 0, kOffVersion = 4, kOffType = 5, kOffFlags = 6, kOffLength = 8,
                 kOffDataOffset = 12, kOffPayloadSum = 16, kOffHeaderSum = 24;
}  // namespace

std::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kHelloOk:
      return "HELLO_OK";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kWrite:
      return "WRITE";
    case FrameType::kAck:
      return "ACK";
    case FrameType::kPoint:
      return "POINT";
    case FrameType::kHeartbeat:
      return "HEARTBEAT";
    case FrameType::kHashRequest:
      return "HASH_REQUEST";
    case FrameType::kHashReply:
      return "HASH_REPLY";
    case FrameType::kDiskInfo:
      return "DISK_INFO";
    case FrameType::kGroupHold:
      return "GROUP_HOLD";
    case FrameType::kGroupHeld:
      return "GROUP_HELD";
    case FrameType::kGroupRelease:
      return "GROUP_RELEASE";
    case FrameType::kGroupReleased:
      return "GROUP_RELEASED";
  }
  return "UNKNOWN";
}

uint64_t PayloadChecksum(std::string_view fields, uint64_t data_xxh3) {
  Xxh3Stream sum;
  sum.Update(fields.data(), fields.size());
  uint8_t d[8];
  PutLE64(d, data_xxh3);
  sum.Update(d, sizeof d);
  return sum.Digest();
}

OutFrame MakeFrame(FrameType type, uint16_t flags, std::string fields,
                   std::shared_ptr<const std::string> data, const uint64_t* data_xxh3) {
  size_t data_size = data ? data->size() : 0;
  size_t payload_size = fields.size() + data_size;
  // Callers bound message sizes before building; a violation is a programming error.
  LL_CHECK(payload_size <= kMaxPayloadBytes);
  uint64_t data_sum = data_xxh3 ? *data_xxh3 : Xxh3(data_size ? data->data() : "", data_size);

  OutFrame out;
  out.head.resize(kFrameHeaderBytes);
  auto* h = reinterpret_cast<uint8_t*>(out.head.data());
  PutLE32(h + kOffMagic, kFrameMagic);
  h[kOffVersion] = kProtocolVersion;
  h[kOffType] = uint8_t(type);
  PutLE16(h + kOffFlags, flags);
  PutLE32(h + kOffLength, uint32_t(payload_size));
  PutLE32(h + kOffDataOffset, uint32_t(fields.size()));
  PutLE64(h + kOffPayloadSum, PayloadChecksum(fields, data_sum));
  PutLE64(h + kOffHeaderSum, Xxh3(h, kOffHeaderSum));
  out.head += fields;
  out.data = std::move(data);
  return out;
}

std::string Flatten(const OutFrame& frame) {
  std::string s = frame.head;
  if (frame.data) s += *frame.data;
  return s;
}

FrameDecoder::FrameDecoder(uint32_t max_payload_bytes)
    : max_payload_bytes_(std::min(max_payload_bytes, kMaxPayloadBytes)) {}

Status FrameDecoder::Fail(Status s) {
  error_ = std::move(s);
  return error_;
}

MutableByteSpan FrameDecoder::Next() {
  if (!error_.ok()) return {};
  switch (state_) {
    case State::kHeader:
      return {header_ + got_, kFrameHeaderBytes - got_};
    case State::kPayload:
      return {reinterpret_cast<uint8_t*>(frame_.payload.data()) + got_,
              frame_.payload.size() - got_};
    case State::kReady:
      return {};
  }
  return {};
}

Status FrameDecoder::ParseHeader() {
  const uint8_t* h = header_;
  uint32_t magic = GetLE32(h + kOffMagic);
  if (magic != kFrameMagic)
    return Status::Corruption("bad frame magic 0x" +
                              [&] {
                                char b[9];
                                snprintf(b, sizeof b, "%08x", magic);
                                return std::string(b);
                              }() +
                              " after " + std::to_string(frames_decoded_) +
                              " frames (not a lifeline peer?)");
  if (h[kOffVersion] != kProtocolVersion)
    return Status::Corruption("unsupported wire protocol version " +
                              std::to_string(h[kOffVersion]) + " (this build speaks " +
                              std::to_string(kProtocolVersion) + "): upgrade lifeline");
  if (GetLE64(h + kOffHeaderSum) != Xxh3(h, kOffHeaderSum))
    return Status::Corruption("frame header checksum mismatch after " +
                              std::to_string(frames_decoded_) + " frames");
  uint8_t type = h[kOffType];
  if (type == 0 || type > kMaxFrameType)
    return Status::Corruption("unknown frame type " + std::to_string(type));
  uint32_t length = GetLE32(h + kOffLength);
  if (length > max_payload_bytes_)
    return Status::Corruption("frame payload of " + std::to_string(length) +
                              " bytes exceeds the limit of " + std::to_string(max_payload_bytes_));
  uint32_t data_offset = GetLE32(h + kOffDataOffset);
  if (data_offset > length)
    return Status::Corruption("frame data offset " + std::to_string(data_offset) +
                              " beyond its payload of " + std::to_string(length) + " bytes");
  frame_.type = FrameType(type);
  frame_.flags = GetLE16(h + kOffFlags);
  frame_.data_offset = data_offset;
  frame_.payload.resize(length);
  payload_xxh3_ = GetLE64(h + kOffPayloadSum);
  return Status::Ok();
}

Result<bool> FrameDecoder::Advance(size_t n) {
  if (!error_.ok()) return error_;
  got_ += n;
  if (state_ == State::kHeader) {
    LL_CHECK(got_ <= kFrameHeaderBytes);
    if (got_ < kFrameHeaderBytes) return false;
    Status s = ParseHeader();
    if (!s.ok()) return Fail(std::move(s));
    state_ = State::kPayload;
    got_ = 0;
  } else if (state_ == State::kPayload) {
    LL_CHECK(got_ <= frame_.payload.size());
  } else {
    return Fail(Status::FailedPrecondition("FrameDecoder: TakeFrame() not called"));
  }
  if (got_ < frame_.payload.size()) return false;
  std::string_view payload(frame_.payload);
  frame_.data_xxh3 = Xxh3(payload.substr(frame_.data_offset));
  if (PayloadChecksum(payload.substr(0, frame_.data_offset), frame_.data_xxh3) != payload_xxh3_)
    return Fail(Status::Corruption(std::string("payload checksum mismatch in ") +
                                   std::string(FrameTypeName(frame_.type)) + " frame of " +
                                   std::to_string(frame_.payload.size()) + " bytes"));
  state_ = State::kReady;
  return true;
}

Frame FrameDecoder::TakeFrame() {
  LL_CHECK(state_ == State::kReady);
  state_ = State::kHeader;
  got_ = 0;
  ++frames_decoded_;
  return std::move(frame_);
}

Status FrameDecoder::Feed(ByteSpan input, std::vector<Frame>* frames) {
  while (!input.empty()) {
    if (!error_.ok()) return error_;
    MutableByteSpan next = Next();
    size_t n = std::min(next.size(), input.size());
    if (n) std::memcpy(next.data(), input.data(), n);
    input = input.subspan(n);
    LL_ASSIGN_OR_RETURN(bool complete, Advance(n));
    if (complete) frames->push_back(TakeFrame());
  }
  // A zero-length payload completes on the header alone; nothing more to do here because
  // Advance() already handled it.
  return error_;
}

Status FrameDecoder::Finish() const {
  if (!error_.ok()) return error_;
  if (!at_frame_boundary()) return Status::Corruption("stream ended inside a frame (truncated)");
  return Status::Ok();
}

}  // namespace lifeline::wire
