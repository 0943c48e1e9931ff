// Session state machine; see session.h. Not thread-safe (driver serialises calls).
#include "nbd/session.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "nbd/protocol.h"
#include "nbd/wire.h"

namespace lifeline::nbd {
namespace {

constexpr size_t kClientFlagsBytes = 4;
constexpr size_t kOptionHeaderBytes = 16;

bool InRange(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

}  // namespace

const char* StateName(Session::State s) {
  switch (s) {
    case Session::State::kClientFlags: return "client-flags";
    case Session::State::kOptionHeader: return "option-header";
    case Session::State::kOptionData: return "option-data";
    case Session::State::kStartTls: return "start-tls";
    case Session::State::kRequestHeader: return "request-header";
    case Session::State::kRequestPayload: return "request-payload";
    case Session::State::kDrainPayload: return "drain-payload";
    case Session::State::kClosed: return "closed";
  }
  return "?";
}

Session::Session(SessionConfig config) : config_(std::move(config)) {
  LL_CHECK(config_.registry != nullptr);
  need_ = kClientFlagsBytes;
}

void Session::Start() {
  AppendBE64(&out_, kNbdMagic);
  AppendBE64(&out_, kOptMagic);
  AppendBE16(&out_, kFlagFixedNewstyle | kFlagNoZeroes);
}

void Session::SetState(State next) {
  // Nothing leaves kClosed: once the session decided to end, no input is interpreted.
  LL_CHECK(state_ != State::kClosed);
  Phase before = phase();
  state_ = next;
  ++transitions_;
  buf_.clear();
  switch (next) {
    case State::kClientFlags: need_ = kClientFlagsBytes; break;
    case State::kOptionHeader: need_ = kOptionHeaderBytes; break;
    case State::kRequestHeader: need_ = kRequestHeaderBytes; break;
    default: need_ = 0; break;
  }
  if (phase() != before) {
    log::Debug("nbd", std::string("session state -> ") + StateName(next));
  }
}

void Session::Close(std::string reason) {
  if (state_ == State::kClosed) return;
  if (!reason.empty()) log::Info("nbd", "closing connection: " + reason);
  close_reason_ = std::move(reason);
  SetState(State::kClosed);
}

Session::Phase Session::phase() const {
  switch (state_) {
    case State::kClientFlags:
    case State::kOptionHeader:
    case State::kOptionData: return Phase::kHandshake;
    case State::kStartTls: return Phase::kStartTls;
    case State::kRequestHeader:
    case State::kRequestPayload:
    case State::kDrainPayload: return Phase::kTransmission;
    case State::kClosed: return Phase::kClosed;
  }
  return Phase::kClosed;
}

uint16_t Session::TransmissionFlags(bool read_only) const {
  uint16_t f = kTxHasFlags | kTxSendFlush | kTxSendFua | kTxCanMultiConn | kTxSendCache;
  if (structured_) f |= kTxSendDf;
  if (read_only) {
    f |= kTxReadOnly;
  } else {
    f |= kTxSendTrim | kTxSendWriteZeroes | kTxSendFastZero;
  }
  return f;
}

std::string Session::TakeOutput() {
  std::string out;
  out.swap(out_);
  return out;
}

Request Session::PopRequest() {
  LL_CHECK(ready_.has_value());
  Request r = std::move(*ready_);
  ready_.reset();
  return r;
}

void Session::TlsEstablished() {
  LL_CHECK(state_ == State::kStartTls);
  tls_active_ = true;
  structured_ = false;
  meta_id_ = 0;
  meta_target_.reset();
  SetState(State::kOptionHeader);
}

size_t Session::Feed(ByteSpan data) {
  size_t used = 0;
  while (used < data.size() && !ready_ && state_ != State::kStartTls &&
         state_ != State::kClosed) {
    size_t avail = data.size() - used;
    if (state_ == State::kRequestPayload) {
      size_t n = std::min<size_t>(avail, pending_.length - payload_filled_);
      std::memcpy(pending_.payload.get() + payload_filled_, data.data() + used, n);
      used += n;
      PayloadReceived(n);
      continue;
    }
    if (state_ == State::kDrainPayload) {
      size_t n = size_t(std::min<uint64_t>(avail, drain_left_));
      used += n;
      drain_left_ -= n;
      if (drain_left_ == 0) FinishRequest();
      continue;
    }
    size_t n = std::min(avail, need_ - buf_.size());
    buf_.append(reinterpret_cast<const char*>(data.data() + used), n);
    used += n;
    if (buf_.size() < need_) continue;
    switch (state_) {
      case State::kClientFlags: OnClientFlags(); break;
      case State::kOptionHeader: OnOptionHeader(); break;
      case State::kOptionData: OnOption(); break;
      case State::kRequestHeader: OnRequestHeader(); break;
      default: LL_CHECK(false);  // the other states are handled above or stop the loop
    }
  }
  return used;
}

MutableByteSpan Session::PayloadSink() {
  if (state_ != State::kRequestPayload) return {};
  return MutableByteSpan(pending_.payload.get() + payload_filled_,
                         pending_.length - payload_filled_);
}

void Session::PayloadReceived(size_t n) {
  LL_CHECK(state_ == State::kRequestPayload && n <= pending_.length - payload_filled_);
  payload_filled_ += n;
  if (payload_filled_ == pending_.length) FinishRequest();
}

void Session::FinishRequest() {
  ready_ = std::move(pending_);
  pending_ = Request{};
  SetState(State::kRequestHeader);
}

// ---- handshake ----

void Session::OnClientFlags() {
  uint32_t flags = GetBE32(reinterpret_cast<const uint8_t*>(buf_.data()));
  if (flags & ~(kClientFlagFixedNewstyle | kClientFlagNoZeroes)) {
    return Close("unknown client flags");
  }
  if (!(flags & kClientFlagFixedNewstyle)) {
    return Close("client does not speak fixed newstyle");
  }
  no_zeroes_ = flags & kClientFlagNoZeroes;
  SetState(State::kOptionHeader);
}

void Session::OnOptionHeader() {
  BeReader r(buf_);
  uint64_t magic = r.U64();
  uint32_t option = r.U32();
  uint32_t length = r.U32();
  if (magic != kOptMagic) return Close("bad option magic");
  if (++options_seen_ > config_.limits.max_options) return Close("too many options");
  if (length > config_.limits.max_option_bytes) return Close("option data too long");
  option_ = option;
  SetState(State::kOptionData);
  need_ = length;
  if (length == 0) OnOption();
}

void Session::ReplyOption(uint32_t type, std::string_view data) {
  AppendBE64(&out_, kOptReplyMagic);
  AppendBE32(&out_, option_);
  AppendBE32(&out_, type);
  AppendBE32(&out_, uint32_t(data.size()));
  out_.append(data);
}

void Session::ReplyError(uint32_t type, std::string_view message) { ReplyOption(type, message); }

void Session::OnOption() {
  std::string data;
  data.swap(buf_);
  if (config_.tls_required && !tls_active_) {
    if (option_ == kOptExportName) return Close("TLS required before EXPORT_NAME");
    if (option_ != kOptStartTls && option_ != kOptAbort) {
      ReplyError(kRepErrTlsReqd, "TLS is required");
      SetState(State::kOptionHeader);
      return;
    }
  }
  buf_ = std::move(data);  // handlers parse buf_
  switch (option_) {
    case kOptAbort:
      ReplyOption(kRepAck);
      return Close("");
    case kOptList: HandleList(); break;
    case kOptStartTls:
      if (!buf_.empty()) {
        ReplyError(kRepErrInvalid, "STARTTLS takes no data");
      } else if (tls_active_) {
        ReplyError(kRepErrInvalid, "TLS is already active");
      } else if (!config_.tls_available) {
        ReplyError(kRepErrPolicy, "TLS is not configured on this server");
      } else {
        ReplyOption(kRepAck);
        SetState(State::kStartTls);
        return;
      }
      break;
    case kOptInfo: HandleInfoGo(false); break;
    case kOptGo: HandleInfoGo(true); break;
    case kOptStructuredReply:
      if (!buf_.empty()) {
        ReplyError(kRepErrInvalid, "STRUCTURED_REPLY takes no data");
      } else {
        structured_ = true;
        ReplyOption(kRepAck);
      }
      break;
    case kOptListMetaContext: HandleMetaContext(false); break;
    case kOptSetMetaContext: HandleMetaContext(true); break;
    case kOptExportName: HandleExportName(); break;
    default: ReplyError(kRepErrUnsup, "option not supported"); break;
  }
  if (state_ == State::kOptionData) SetState(State::kOptionHeader);
}

void Session::HandleList() {
  if (!buf_.empty()) return ReplyError(kRepErrInvalid, "LIST takes no data");
  for (const std::string& name : config_.registry->Names()) {
    std::string d;
    AppendBE32(&d, uint32_t(name.size()));
    d += name;
    ReplyOption(kRepServer, d);
  }
  ReplyOption(kRepAck);
}

void Session::HandleInfoGo(bool go) {
  BeReader r(buf_);
  uint32_t name_len = r.U32();
  if (name_len > kMaxStringBytes) return ReplyError(kRepErrInvalid, "export name too long");
  std::string name(r.Bytes(name_len));
  uint16_t count = r.U16();
  bool want_name = false, want_description = false;
  for (uint16_t i = 0; i < count && r.ok(); ++i) {
    uint16_t info = r.U16();
    want_name |= info == kInfoName;
    want_description |= info == kInfoDescription;
  }
  if (!r.ok() || r.remaining() != 0) return ReplyError(kRepErrInvalid, "malformed INFO/GO");
  std::shared_ptr<const Export> e = config_.registry->Find(name);
  if (!e) return ReplyError(kRepErrUnknown, "no export named '" + name + "'");

  std::string d;
  AppendBE16(&d, kInfoExport);
  AppendBE64(&d, e->backend->size());
  AppendBE16(&d, TransmissionFlags(e->read_only));
  ReplyOption(kRepInfo, d);
  if (want_name) {
    d.clear();
    AppendBE16(&d, kInfoName);
    d += e->name;
    ReplyOption(kRepInfo, d);
  }
  if (want_description && !e->description.empty()) {
    d.clear();
    AppendBE16(&d, kInfoDescription);
    d += e->description.substr(0, kMaxStringBytes);
    ReplyOption(kRepInfo, d);
  }
  // Always advertised: clients that asked must obey it, the others may use it.
  d.clear();
  AppendBE16(&d, kInfoBlockSize);
  AppendBE32(&d, config_.limits.min_block_bytes);
  AppendBE32(&d, config_.limits.preferred_block_bytes);
  AppendBE32(&d, config_.limits.max_payload_bytes);
  ReplyOption(kRepInfo, d);
  ReplyOption(kRepAck);
  if (go) EnterTransmission(std::move(e));
}

void Session::HandleMetaContext(bool set) {
  if (!structured_) {
    return ReplyError(kRepErrInvalid, "meta contexts need structured replies first");
  }
  BeReader r(buf_);
  uint32_t name_len = r.U32();
  if (name_len > kMaxStringBytes) return ReplyError(kRepErrInvalid, "export name too long");
  std::string name(r.Bytes(name_len));
  uint32_t count = r.U32();
  std::vector<std::string> queries;
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    uint32_t len = r.U32();
    if (len > kMaxStringBytes) return ReplyError(kRepErrInvalid, "query too long");
    std::string q(r.Bytes(len));
    if (!r.ok()) break;
    if (q.find(':') == std::string::npos) {
      return ReplyError(kRepErrInvalid, "query has no namespace");
    }
    queries.push_back(std::move(q));
  }
  if (!r.ok() || r.remaining() != 0) return ReplyError(kRepErrInvalid, "malformed meta query");
  std::shared_ptr<const Export> e = config_.registry->Find(name);
  if (!e) return ReplyError(kRepErrUnknown, "no export named '" + name + "'");

  bool match = false;
  for (const std::string& q : queries) {
    // "base:" is a wildcard for LIST only; SET must name the context exactly.
    if (q == kBaseAllocation || (!set && q == "base:")) match = true;
  }
  if (!set && queries.empty()) match = true;
  if (set) {
    meta_id_ = match ? kBaseAllocationId : 0;
    meta_target_ = match ? e : nullptr;
  }
  if (match) {
    std::string d;
    AppendBE32(&d, set ? kBaseAllocationId : 0);
    d += kBaseAllocation;
    ReplyOption(kRepMetaContext, d);
  }
  ReplyOption(kRepAck);
}

void Session::HandleExportName() {
  if (buf_.size() > kMaxStringBytes) return Close("export name too long");
  std::shared_ptr<const Export> e = config_.registry->Find(buf_);
  if (!e) return Close("EXPORT_NAME for unknown export '" + buf_ + "'");
  AppendBE64(&out_, e->backend->size());
  AppendBE16(&out_, TransmissionFlags(e->read_only));
  if (!no_zeroes_) out_.append(124, '\0');
  EnterTransmission(std::move(e));
}

void Session::EnterTransmission(std::shared_ptr<const Export> e) {
  // BLOCK_STATUS is allowed only for the export the last SET_META_CONTEXT named.
  if (meta_target_ != e) meta_id_ = 0;
  meta_target_.reset();
  export_ = std::move(e);
  SetState(State::kRequestHeader);
}

// ---- transmission ----

void Session::OnRequestHeader() {
  BeReader r(buf_);
  uint32_t magic = r.U32();
  Request q;
  q.flags = r.U16();
  q.type = r.U16();
  q.handle = r.U64();
  q.offset = r.U64();
  q.length = r.U32();
  if (magic != kRequestMagic) return Close("bad request magic");

  const SessionLimits& lim = config_.limits;
  uint64_t size = export_->backend->size();
  bool read_only = export_->read_only;
  bool in_range = InRange(q.offset, q.length, size);
  uint16_t allowed = kCmdFlagFua;  // FUA is accepted on every command once advertised
  uint32_t err = 0;
  switch (q.type) {
    case kCmdRead:
      if (structured_) allowed |= kCmdFlagDf;
      if (q.length == 0) err = kEInval;
      else if (q.length > lim.max_payload_bytes) err = (q.flags & kCmdFlagDf) ? kEOverflow : kEInval;
      else if (!in_range) err = kEInval;
      break;
    case kCmdWrite:
      if (read_only) err = kEPerm;
      else if (q.length == 0 || q.length > lim.max_payload_bytes) err = kEInval;
      else if (!in_range) err = kENoSpc;
      break;
    case kCmdDisc:
      return Close("");
    case kCmdFlush:
      break;
    case kCmdTrim:
      if (read_only) err = kEPerm;
      else if (q.length == 0 || !in_range) err = kEInval;
      break;
    case kCmdCache:
      if (!in_range) err = kEInval;
      break;
    case kCmdWriteZeroes:
      allowed |= kCmdFlagNoHole | kCmdFlagFastZero;
      if (read_only) err = kEPerm;
      else if (q.length == 0) err = kEInval;
      else if (!in_range) err = kENoSpc;
      break;
    case kCmdBlockStatus:
      allowed |= kCmdFlagReqOne;
      if (!structured_ || meta_id_ == 0) err = kEInval;
      else if (q.length == 0 || !in_range) err = kEInval;
      break;
    default:
      err = kEInval;
      break;
  }
  if (q.flags & ~allowed) err = kEInval;
  q.error = err;
  pending_ = std::move(q);

  if (pending_.type == kCmdWrite) {
    if (err == 0) {
      pending_.payload = config_.pool ? config_.pool->Get(pending_.length)
                                      : BufferPool::Plain(pending_.length);
      payload_filled_ = 0;
      SetState(State::kRequestPayload);
      return;
    }
    // The payload follows the header whatever we think of it: skip it to stay in frame.
    if (pending_.length > lim.drain_limit_bytes) return Close("write payload too long");
    if (pending_.length > 0) {
      drain_left_ = pending_.length;
      SetState(State::kDrainPayload);
      return;
    }
  }
  FinishRequest();
}

}  // namespace lifeline::nbd
