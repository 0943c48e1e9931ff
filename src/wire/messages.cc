#include "wire/messages.h"

#include <cstring>

#include "common/checksum.h"
#include "wire/streams.h"

namespace lifeline::wire {

namespace {

constexpr size_t kWriteFieldBytes =
    44;  // seq, offset, length, raw_xxh3, time, kind, codec, 2 reserved

Status ExpectType(const Frame& f, FrameType want) {
  if (f.type != want)
    return Status::Corruption("expected a " + std::string(FrameTypeName(want)) + " frame, got " +
                              std::string(FrameTypeName(f.type)));
  return Status::Ok();
}

// Finishes decoding: every field read in bounds and nothing left over.
Status Done(const ByteReader& r, FrameType type) {
  if (!r.ok())
    return Status::Corruption(std::string(FrameTypeName(type)) +
                              " frame too short or a field too long");
  if (r.remaining() != 0)
    return Status::Corruption(std::string(FrameTypeName(type)) + " frame has " +
                              std::to_string(r.remaining()) + " trailing bytes");
  return Status::Ok();
}

void PutStr(ByteWriter& w, std::string_view s, size_t max) {
  // Encoders are fed by our own code: an over-long field is a programming error.
  LL_CHECK(s.size() <= max);
  w.Str(s);
}

}  // namespace

std::string_view WriteKindName(WriteKind kind) {
  switch (kind) {
    case WriteKind::kData:
      return "data";
    case WriteKind::kZero:
      return "zero";
    case WriteKind::kTrim:
      return "trim";
  }
  return "unknown";
}

std::string_view PointKindName(PointKind kind) {
  switch (kind) {
    case PointKind::kCrash:
      return "crash-consistent";
    case PointKind::kApp:
      return "app-consistent";
    case PointKind::kGroup:
      return "group";
    case PointKind::kUser:
      return "user";
  }
  return "unknown";
}

Status ErrorMsg::ToStatus() const {
  return Status(code == Code::kOk ? Code::kIOError : code, "peer reported: " + message);
}

ErrorMsg ErrorMsg::FromStatus(const Status& s) {
  ErrorMsg m;
  m.code = s.ok() ? Code::kIOError : s.code();
  m.message = s.message().substr(0, kMaxErrorMessageBytes);
  return m;
}

// ---- encoders ----

OutFrame Encode(const Hello& m) {
  std::string s;
  ByteWriter w(&s);
  w.U16(m.protocol_version);
  w.U16(m.stream_index);
  w.U16(m.stream_count);
  w.U16(0);
  PutStr(w, m.agent_id, kMaxIdBytes);
  PutStr(w, m.machine, kMaxIdBytes);
  PutStr(w, m.disk_id, kMaxIdBytes);
  w.U64(m.disk_size_bytes);
  w.U64(m.session_id);
  w.U64(m.acked_seq);
  w.U64(m.next_seq);
  return MakeFrame(FrameType::kHello, 0, std::move(s));
}

OutFrame Encode(const HelloOk& m) {
  std::string s;
  ByteWriter w(&s);
  w.U16(m.protocol_version);
  w.U16(0);
  w.U32(m.max_payload_bytes);
  w.U32(m.heartbeat_interval_ms);
  w.U64(m.durable_seq);
  return MakeFrame(FrameType::kHelloOk, 0, std::move(s));
}

OutFrame Encode(const ErrorMsg& m) {
  std::string s;
  ByteWriter w(&s);
  w.U8(uint8_t(m.code));
  w.Str(std::string_view(m.message).substr(0, kMaxErrorMessageBytes));
  return MakeFrame(FrameType::kError, 0, std::move(s));
}

OutFrame Encode(const Ack& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.durable_seq);
  return MakeFrame(FrameType::kAck, 0, std::move(s));
}

OutFrame EncodePointRecorded(uint64_t point_seq) {
  std::string s;
  ByteWriter w(&s);
  w.U64(point_seq);
  return MakeFrame(FrameType::kAck, kAckFlagPointRecorded, std::move(s));
}

OutFrame Encode(const PointMsg& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.seq);
  w.U8(uint8_t(m.kind));
  w.U64(uint64_t(m.time_ns));
  PutStr(w, m.label, kMaxLabelBytes);
  PutStr(w, m.group_id, kMaxIdBytes);
  return MakeFrame(FrameType::kPoint, 0, std::move(s));
}

OutFrame Encode(const Heartbeat& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(uint64_t(m.send_time_ns));
  w.U64(uint64_t(m.echo_time_ns));
  return MakeFrame(FrameType::kHeartbeat, 0, std::move(s));
}

OutFrame Encode(const HashRequest& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.request_id);
  w.U32(m.block_size);
  w.U64(m.first_block);
  w.U32(m.block_count);
  return MakeFrame(FrameType::kHashRequest, 0, std::move(s));
}

OutFrame Encode(const HashReply& m) {
  LL_CHECK(m.hashes.size() <= kMaxHashesPerReply);
  std::string s;
  s.reserve(24 + 8 * m.hashes.size());
  ByteWriter w(&s);
  w.U64(m.request_id);
  w.U32(m.block_size);
  w.U64(m.first_block);
  w.U32(uint32_t(m.hashes.size()));
  for (uint64_t h : m.hashes) w.U64(h);
  return MakeFrame(FrameType::kHashReply, 0, std::move(s));
}

OutFrame Encode(const DiskInfo& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.seq);
  w.U64(m.disk_size_bytes);
  return MakeFrame(FrameType::kDiskInfo, 0, std::move(s));
}

OutFrame Encode(const GroupHold& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.hold_id);
  w.U32(m.max_hold_ms);
  PutStr(w, m.group_id, kMaxIdBytes);
  return MakeFrame(FrameType::kGroupHold, 0, std::move(s));
}

OutFrame Encode(const GroupHeld& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.hold_id);
  w.U8(m.ok ? 1 : 0);
  w.U64(m.seq);
  w.U64(uint64_t(m.time_ns));
  w.Str(std::string_view(m.reason).substr(0, kMaxErrorMessageBytes));
  return MakeFrame(FrameType::kGroupHeld, 0, std::move(s));
}

OutFrame Encode(const GroupRelease& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.hold_id);
  return MakeFrame(FrameType::kGroupRelease, 0, std::move(s));
}

OutFrame Encode(const GroupReleased& m) {
  std::string s;
  ByteWriter w(&s);
  w.U64(m.hold_id);
  w.U8(m.held ? 1 : 0);
  w.U64(uint64_t(m.held_us));
  return MakeFrame(FrameType::kGroupReleased, 0, std::move(s));
}

static std::string WriteFields(const WriteMsg& m) {
  std::string s;
  s.reserve(kWriteFieldBytes);
  ByteWriter w(&s);
  w.U64(m.seq);
  w.U64(m.offset);
  w.U64(m.length);
  w.U64(m.raw_xxh3);
  w.U64(uint64_t(m.source_time_ns));
  w.U8(uint8_t(m.kind));
  w.U8(uint8_t(m.codec));
  w.U16(0);
  return s;
}

OutFrame EncodeWrite(const WriteMsg& m, std::shared_ptr<const std::string> payload) {
  WriteMsg check = m;
  check.data = payload ? std::string_view(*payload) : std::string_view();
  LL_CHECK(ValidateWrite(check).ok());
  if (payload && payload->empty()) payload = nullptr;
  // Raw data: its hash is raw_xxh3, already computed by the sender; do not hash twice.
  const uint64_t* data_xxh3 =
      (m.kind == WriteKind::kData && m.codec == Codec::kNone) ? &m.raw_xxh3 : nullptr;
  return MakeFrame(FrameType::kWrite, 0, WriteFields(m), std::move(payload), data_xxh3);
}

OutFrame Encode(const WriteMsg& m) {
  auto payload = m.data.empty() ? nullptr : std::make_shared<const std::string>(m.data);
  return EncodeWrite(m, std::move(payload));
}

OutFrame BuildWrite(uint64_t seq, uint64_t offset, std::shared_ptr<const std::string> raw,
                    Codec codec, int64_t source_time_ns, int zstd_level) {
  LL_CHECK(raw && !raw->empty() && raw->size() <= kMaxWriteDataBytes);
  WriteMsg m;
  m.seq = seq;
  m.offset = offset;
  m.length = raw->size();
  m.source_time_ns = source_time_ns;
  if (IsAllZero(raw->data(), raw->size())) {
    m.kind = WriteKind::kZero;
    return EncodeWrite(m, nullptr);
  }
  m.kind = WriteKind::kData;
  m.raw_xxh3 = Xxh3(raw->data(), raw->size());
  if (codec != Codec::kNone) {
    auto packed = std::make_shared<std::string>();
    if (Compress(codec, *raw, packed.get(), zstd_level)) {
      m.codec = codec;
      return EncodeWrite(m, std::move(packed));
    }
  }
  m.codec = Codec::kNone;
  return EncodeWrite(m, std::move(raw));
}

// ---- validation ----

Status ValidateWrite(const WriteMsg& m) {
  if (m.length == 0)
    return Status::Corruption("WRITE seq " + std::to_string(m.seq) + " has zero length");
  if (m.offset + m.length < m.offset)
    return Status::Corruption("WRITE seq " + std::to_string(m.seq) + ": offset + length overflows");
  switch (m.kind) {
    case WriteKind::kData:
      if (m.length > kMaxWriteDataBytes)
        return Status::Corruption("WRITE seq " + std::to_string(m.seq) + " of " +
                                  std::to_string(m.length) + " bytes exceeds " +
                                  std::to_string(kMaxWriteDataBytes));
      switch (m.codec) {
        case Codec::kNone:
          if (m.data.size() != m.length)
            return Status::Corruption("WRITE seq " + std::to_string(m.seq) +
                                      ": raw payload size differs from its length");
          break;
        case Codec::kLz4:
        case Codec::kZstd:
          if (m.data.empty() || m.data.size() >= m.length)
            return Status::Corruption("WRITE seq " + std::to_string(m.seq) +
                                      ": compressed payload not smaller than its length");
          break;
        default:
          return Status::Corruption("WRITE seq " + std::to_string(m.seq) + ": unknown codec " +
                                    std::to_string(int(m.codec)));
      }
      return Status::Ok();
    case WriteKind::kZero:
    case WriteKind::kTrim:
      if (!m.data.empty() || m.codec != Codec::kNone || m.raw_xxh3 != 0)
        return Status::Corruption("WRITE seq " + std::to_string(m.seq) + ": " +
                                  std::string(WriteKindName(m.kind)) + " record carries data");
      return Status::Ok();
  }
  return Status::Corruption("WRITE seq " + std::to_string(m.seq) + ": unknown kind " +
                            std::to_string(int(m.kind)));
}

Status ExpandWriteData(const WriteMsg& m, std::string* raw) {
  if (m.kind != WriteKind::kData) return Status::InvalidArgument("WRITE carries no data");
  raw->resize(m.length);
  LL_RETURN_IF_ERROR(Decompress(m.codec, m.data, raw->data(), raw->size()));
  if (m.raw_verified && m.codec == Codec::kNone) return Status::Ok();
  if (Xxh3(raw->data(), raw->size()) != m.raw_xxh3)
    return Status::Corruption("WRITE seq " + std::to_string(m.seq) +
                              ": raw data checksum mismatch");
  return Status::Ok();
}

// ---- decoders ----

Result<Hello> DecodeHello(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kHello));
  ByteReader r(f.payload);
  Hello m;
  m.protocol_version = r.U16();
  m.stream_index = r.U16();
  m.stream_count = r.U16();
  r.U16();
  m.agent_id = r.Str(kMaxIdBytes);
  m.machine = r.Str(kMaxIdBytes);
  m.disk_id = r.Str(kMaxIdBytes);
  m.disk_size_bytes = r.U64();
  m.session_id = r.U64();
  m.acked_seq = r.U64();
  m.next_seq = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  if (m.protocol_version != kProtocolVersion)
    return Status::InvalidArgument("HELLO: unsupported protocol version " +
                                   std::to_string(m.protocol_version));
  LL_RETURN_IF_ERROR(ValidateStreamCount(m.stream_count).WithContext("HELLO"));
  if (m.stream_index >= m.stream_count)
    return Status::InvalidArgument("HELLO: stream index " + std::to_string(m.stream_index) +
                                   " not below stream count " + std::to_string(m.stream_count));
  if (m.disk_id.empty()) return Status::InvalidArgument("HELLO: empty disk id");
  return m;
}

Result<HelloOk> DecodeHelloOk(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kHelloOk));
  ByteReader r(f.payload);
  HelloOk m;
  m.protocol_version = r.U16();
  r.U16();
  m.max_payload_bytes = r.U32();
  m.heartbeat_interval_ms = r.U32();
  m.durable_seq = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

Result<ErrorMsg> DecodeError(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kError));
  ByteReader r(f.payload);
  ErrorMsg m;
  uint8_t code = r.U8();
  m.message = r.Str(kMaxErrorMessageBytes);
  LL_RETURN_IF_ERROR(Done(r, f.type));
  if (code == 0 || code > uint8_t(Code::kFailedPrecondition))
    return Status::Corruption("ERROR frame with unknown code " + std::to_string(code));
  m.code = Code(code);
  return m;
}

Result<WriteMsg> DecodeWrite(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kWrite));
  ByteReader r(f.payload);
  WriteMsg m;
  m.seq = r.U64();
  m.offset = r.U64();
  m.length = r.U64();
  m.raw_xxh3 = r.U64();
  m.source_time_ns = int64_t(r.U64());
  uint8_t kind = r.U8();
  uint8_t codec = r.U8();
  r.U16();
  if (!r.ok()) return Status::Corruption("WRITE frame too short");
  if (kind > uint8_t(WriteKind::kTrim))
    return Status::Corruption("WRITE: unknown kind " + std::to_string(kind));
  m.kind = WriteKind(kind);
  m.codec = Codec(codec);
  if (f.data_offset != kWriteFieldBytes)
    return Status::Corruption("WRITE: data offset " + std::to_string(f.data_offset) +
                              ", expected " + std::to_string(kWriteFieldBytes));
  m.data = r.Bytes(r.remaining());
  LL_RETURN_IF_ERROR(ValidateWrite(m));
  if (m.kind == WriteKind::kData && m.codec == Codec::kNone) {
    // End-to-end check at no cost: the frame layer hashed exactly these bytes.
    if (f.data_xxh3 != m.raw_xxh3)
      return Status::Corruption("WRITE seq " + std::to_string(m.seq) +
                                ": raw data checksum mismatch");
    m.raw_verified = true;
  }
  return m;
}

Result<Ack> DecodeAck(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kAck));
  ByteReader r(f.payload);
  Ack m;
  m.durable_seq = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

Result<PointMsg> DecodePoint(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kPoint));
  ByteReader r(f.payload);
  PointMsg m;
  m.seq = r.U64();
  uint8_t kind = r.U8();
  m.time_ns = int64_t(r.U64());
  m.label = r.Str(kMaxLabelBytes);
  m.group_id = r.Str(kMaxIdBytes);
  LL_RETURN_IF_ERROR(Done(r, f.type));
  if (kind > uint8_t(PointKind::kUser))
    return Status::Corruption("POINT: unknown kind " + std::to_string(kind));
  m.kind = PointKind(kind);
  return m;
}

Result<Heartbeat> DecodeHeartbeat(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kHeartbeat));
  ByteReader r(f.payload);
  Heartbeat m;
  m.send_time_ns = int64_t(r.U64());
  m.echo_time_ns = int64_t(r.U64());
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

static Status ValidateHashBlock(uint32_t block_size, uint64_t first_block, uint64_t count) {
  if (block_size < kMinHashBlockBytes || block_size > kMaxHashBlockBytes ||
      (block_size & (block_size - 1)) != 0)
    return Status::Corruption("hash block size " + std::to_string(block_size) +
                              " is not a power of two in 4 KiB..64 MiB");
  if (count > kMaxHashesPerReply)
    return Status::Corruption("hash range of " + std::to_string(count) + " blocks exceeds " +
                              std::to_string(kMaxHashesPerReply));
  if (first_block + count < first_block) return Status::Corruption("hash range overflows");
  return Status::Ok();
}

Result<HashRequest> DecodeHashRequest(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kHashRequest));
  ByteReader r(f.payload);
  HashRequest m;
  m.request_id = r.U64();
  m.block_size = r.U32();
  m.first_block = r.U64();
  m.block_count = r.U32();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  LL_RETURN_IF_ERROR(ValidateHashBlock(m.block_size, m.first_block, m.block_count));
  return m;
}

Result<HashReply> DecodeHashReply(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kHashReply));
  ByteReader r(f.payload);
  HashReply m;
  m.request_id = r.U64();
  m.block_size = r.U32();
  m.first_block = r.U64();
  uint32_t count = r.U32();
  if (!r.ok()) return Status::Corruption("HASH_REPLY frame too short");
  LL_RETURN_IF_ERROR(ValidateHashBlock(m.block_size, m.first_block, count));
  if (r.remaining() != size_t(count) * 8)
    return Status::Corruption("HASH_REPLY: " + std::to_string(count) + " hashes announced, " +
                              std::to_string(r.remaining()) + " bytes present");
  m.hashes.resize(count);
  for (auto& h : m.hashes) h = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

Result<DiskInfo> DecodeDiskInfo(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kDiskInfo));
  ByteReader r(f.payload);
  DiskInfo m;
  m.seq = r.U64();
  m.disk_size_bytes = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

static Result<bool> DecodeFlag(uint8_t v, FrameType type) {
  if (v > 1)
    return Status::Corruption(std::string(FrameTypeName(type)) + ": flag byte " + std::to_string(v) +
                              " is neither 0 nor 1");
  return v == 1;
}

Result<GroupHold> DecodeGroupHold(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kGroupHold));
  ByteReader r(f.payload);
  GroupHold m;
  m.hold_id = r.U64();
  m.max_hold_ms = r.U32();
  m.group_id = r.Str(kMaxIdBytes);
  LL_RETURN_IF_ERROR(Done(r, f.type));
  if (m.max_hold_ms == 0 || m.max_hold_ms > kMaxGroupHoldMs)
    return Status::InvalidArgument("GROUP_HOLD: hold of " + std::to_string(m.max_hold_ms) + " ms is outside 1.." +
                                   std::to_string(kMaxGroupHoldMs));
  return m;
}

Result<GroupHeld> DecodeGroupHeld(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kGroupHeld));
  ByteReader r(f.payload);
  GroupHeld m;
  m.hold_id = r.U64();
  uint8_t ok = r.U8();
  m.seq = r.U64();
  m.time_ns = int64_t(r.U64());
  m.reason = r.Str(kMaxErrorMessageBytes);
  LL_RETURN_IF_ERROR(Done(r, f.type));
  LL_ASSIGN_OR_RETURN(m.ok, DecodeFlag(ok, f.type));
  return m;
}

Result<GroupRelease> DecodeGroupRelease(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kGroupRelease));
  ByteReader r(f.payload);
  GroupRelease m;
  m.hold_id = r.U64();
  LL_RETURN_IF_ERROR(Done(r, f.type));
  return m;
}

Result<GroupReleased> DecodeGroupReleased(const Frame& f) {
  LL_RETURN_IF_ERROR(ExpectType(f, FrameType::kGroupReleased));
  ByteReader r(f.payload);
  GroupReleased m;
  m.hold_id = r.U64();
  uint8_t held = r.U8();
  m.held_us = int64_t(r.U64());
  LL_RETURN_IF_ERROR(Done(r, f.type));
  LL_ASSIGN_OR_RETURN(m.held, DecodeFlag(held, f.type));
  if (m.held_us < 0) return Status::Corruption("GROUP_RELEASED: negative hold time");
  return m;
}

}  // namespace lifeline::wire
