// Typed replication messages carried in frames (docs/formats/wire.md): encode to an
// OutFrame, decode from a verified Frame with every field bounds-checked. Decoders never
// trust the peer: a bad field is Corruption (or InvalidArgument for a value out of its
// documented range). Value types; pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "wire/frame.h"

namespace lifeline::wire {

inline constexpr size_t kMaxIdBytes = 256;      // agent id, machine, disk id, group id
inline constexpr size_t kMaxLabelBytes = 1024;  // recovery point label
inline constexpr size_t kMaxErrorMessageBytes = 4096;
inline constexpr uint32_t kMinHashBlockBytes = 4096;
inline constexpr uint32_t kMaxHashBlockBytes = 64u << 20;
inline constexpr uint32_t kMaxHashesPerReply = 256 * 1024;  // 2 MiB of hashes per frame

// First message on every stream, agent → vault.
struct Hello {
  uint16_t protocol_version = kProtocolVersion;
  uint16_t stream_index = 0;  // 0..stream_count-1
  uint16_t stream_count = 1;  // 1..32, same on every stream of a session
  std::string agent_id;       // must match the client certificate's identity
  std::string machine;
  std::string disk_id;
  uint64_t disk_size_bytes = 0;
  uint64_t session_id = 0;  // shared by the streams of one disk session
  // Resume information: the highest seq the agent has seen acknowledged, and the first
  // seq it will (re)send on this session.
  uint64_t acked_seq = 0;
  uint64_t next_seq = 0;
};

// Vault → agent answer to HELLO: the cumulative durable seq to resume after.
struct HelloOk {
  uint16_t protocol_version = kProtocolVersion;
  uint64_t durable_seq = 0;
  uint32_t max_payload_bytes = kMaxPayloadBytes;
  uint32_t heartbeat_interval_ms = 250;
};

// Either side; the sender closes the connection after it.
struct ErrorMsg {
  Code code = Code::kIOError;
  std::string message;
  Status ToStatus() const;
  static ErrorMsg FromStatus(const Status& s);
};

enum class WriteKind : uint8_t { kData = 0, kZero = 1, kTrim = 2 };
std::string_view WriteKindName(WriteKind kind);

// One disk write, agent → vault. `length` is the raw length on the disk; for kData the
// payload holds `length` raw bytes (codec none) or fewer compressed bytes.
struct WriteMsg {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  WriteKind kind = WriteKind::kData;
  Codec codec = Codec::kNone;
  uint64_t raw_xxh3 = 0;       // XXH3-64 of the raw bytes (kData), else 0: end-to-end check
  int64_t source_time_ns = 0;  // wall time the write completed at the source
  std::string_view data;       // decoded: points into the Frame's payload (valid while it lives)
  // Set by DecodeWrite for codec none: the frame checksum already proved that the data
  // hashes to raw_xxh3, so ExpandWriteData need not hash it again.
  bool raw_verified = false;
};

// Vault → agent: every write with seq <= durable_seq is durable (invariant 1).
struct Ack {
  uint64_t durable_seq = 0;
};
// An ACK frame with this flag confirms instead that the recovery point at `durable_seq`
// (a POINT the agent sent) is recorded; the agent stops resending it.
inline constexpr uint16_t kAckFlagPointRecorded = 1;
OutFrame EncodePointRecorded(uint64_t point_seq);

enum class PointKind : uint8_t { kCrash = 0, kApp = 1, kGroup = 2, kUser = 3 };
std::string_view PointKindName(PointKind kind);

// A recovery point at `seq`, agent → vault.
struct PointMsg {
  uint64_t seq = 0;
  PointKind kind = PointKind::kCrash;
  int64_t time_ns = 0;
  std::string label;
  std::string group_id;  // consistency group, empty if none
};

// Sent by the transport itself when a direction is idle; the receiver echoes the latest
// send time it saw so the sender can measure round-trip time.
struct Heartbeat {
  int64_t send_time_ns = 0;  // sender's monotonic clock
  int64_t echo_time_ns = 0;  // last send_time_ns received from the peer, 0 if none
};

// Resync: either side asks for XXH3 hashes of fixed blocks [first_block, +block_count).
struct HashRequest {
  uint64_t request_id = 0;
  uint32_t block_size = 64 * 1024;
  uint64_t first_block = 0;
  uint32_t block_count = 0;
};
struct HashReply {
  uint64_t request_id = 0;
  uint32_t block_size = 64 * 1024;
  uint64_t first_block = 0;
  std::vector<uint64_t> hashes;
};

// The disk's size changed (or is announced) as of `seq`.
struct DiskInfo {
  uint64_t seq = 0;
  uint64_t disk_size_bytes = 0;
};

// Cross-machine consistency-group points (docs/capture.md): the vault asks every member
// disk's agent to hold write completions (GROUP_HOLD), each answers with the seq of its
// newest completed write at the moment the hold began (GROUP_HELD), the vault ends the
// holds (GROUP_RELEASE) and each agent says whether its hold was still in force then
// (GROUP_RELEASED). A hold ends by itself after max_hold_ms.
inline constexpr uint32_t kMaxGroupHoldMs = 50;
struct GroupHold {
  uint64_t hold_id = 0;
  uint32_t max_hold_ms = kMaxGroupHoldMs;  // 1..kMaxGroupHoldMs
  std::string group_id;
};
struct GroupHeld {
  uint64_t hold_id = 0;
  bool ok = false;        // false: this member cannot take a point now (reason says why)
  uint64_t seq = 0;       // newest completed write when the hold began
  int64_t time_ns = 0;    // the agent's wall time then
  std::string reason;
};
struct GroupRelease {
  uint64_t hold_id = 0;
};
struct GroupReleased {
  uint64_t hold_id = 0;
  bool held = false;      // the hold was still in force when the release came
  int64_t held_us = 0;    // how long completions were held
};

OutFrame Encode(const Hello& m);
OutFrame Encode(const HelloOk& m);
OutFrame Encode(const ErrorMsg& m);
OutFrame Encode(const Ack& m);
OutFrame Encode(const PointMsg& m);
OutFrame Encode(const Heartbeat& m);
OutFrame Encode(const HashRequest& m);
OutFrame Encode(const HashReply& m);
OutFrame Encode(const DiskInfo& m);
OutFrame Encode(const GroupHold& m);
OutFrame Encode(const GroupHeld& m);
OutFrame Encode(const GroupRelease& m);
OutFrame Encode(const GroupReleased& m);
// WRITE with its payload shared (no copy): `payload` is the compressed-or-raw data that
// m.data would describe; m.data is ignored. REQUIRES: ValidateWrite(m with data) passes.
OutFrame EncodeWrite(const WriteMsg& m, std::shared_ptr<const std::string> payload);
// WRITE copying m.data.
OutFrame Encode(const WriteMsg& m);

// Builds a WRITE of raw disk bytes: an all-zero block becomes a kZero record with no
// payload; otherwise the data is compressed with `codec` when that shrinks it, and sent
// raw (sharing `raw`, no copy) when it does not. REQUIRES: 0 < raw->size() <=
// kMaxWriteDataBytes.
OutFrame BuildWrite(uint64_t seq, uint64_t offset, std::shared_ptr<const std::string> raw,
                    Codec codec, int64_t source_time_ns, int zstd_level = 1);

// Checks a WRITE's fields against each other (kind, codec, sizes, offset overflow).
Status ValidateWrite(const WriteMsg& m);
// The raw bytes of a kData WRITE: decompressed if needed and checked against raw_xxh3.
Status ExpandWriteData(const WriteMsg& m, std::string* raw);

Result<Hello> DecodeHello(const Frame& f);
Result<HelloOk> DecodeHelloOk(const Frame& f);
Result<ErrorMsg> DecodeError(const Frame& f);
Result<WriteMsg> DecodeWrite(const Frame& f);
// WriteMsg::data points into the frame: decoding a temporary frame would dangle.
Result<WriteMsg> DecodeWrite(Frame&& f) = delete;
Result<Ack> DecodeAck(const Frame& f);
Result<PointMsg> DecodePoint(const Frame& f);
Result<Heartbeat> DecodeHeartbeat(const Frame& f);
Result<HashRequest> DecodeHashRequest(const Frame& f);
Result<HashReply> DecodeHashReply(const Frame& f);
Result<DiskInfo> DecodeDiskInfo(const Frame& f);
Result<GroupHold> DecodeGroupHold(const Frame& f);
Result<GroupHeld> DecodeGroupHeld(const Frame& f);
Result<GroupRelease> DecodeGroupRelease(const Frame& f);
Result<GroupReleased> DecodeGroupReleased(const Frame& f);

}  // namespace lifeline::wire
