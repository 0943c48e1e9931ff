// Request execution and reply encoding; see executor.h. Thread-safe (the only shared state
// is the rate limit of failure warnings).
#include "nbd/executor.h"

#include <algorithm>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "nbd/protocol.h"
#include "nbd/wire.h"

namespace lifeline::nbd {
namespace {

// A failing disk, or one fenced for a planned failover, fails every request the same way:
// the first failure is logged, then at most one line per 10 s, which counts the failures
// it did not log, so a busy machine cannot flood the log.
void WarnFailure(const std::string& line) {
  constexpr int64_t kQuietNanos = 10'000'000'000;
  static std::mutex mu;
  static int64_t next_ns = 0;
  static uint64_t unlogged = 0;
  int64_t now = Clock::System()->MonotonicNanos();
  uint64_t before;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (now < next_ns) {
      ++unlogged;
      return;
    }
    next_ns = now + kQuietNanos;
    before = unlogged;
    unlogged = 0;
  }
  log::Warn("nbd", line + (before ? " (and " + std::to_string(before) + " more failed requests not logged)" : ""));
}

void SimpleReply(std::string* out, uint64_t handle, uint32_t error) {
  AppendBE32(out, kSimpleReplyMagic);
  AppendBE32(out, error);
  AppendBE64(out, handle);
}

void ChunkHeader(std::string* out, uint64_t handle, uint16_t type, uint32_t length) {
  AppendBE32(out, kStructuredReplyMagic);
  AppendBE16(out, kReplyFlagDone);
  AppendBE16(out, type);
  AppendBE64(out, handle);
  AppendBE32(out, length);
}

// An error: a structured ERROR chunk when structured replies are on (required for READ,
// allowed for the rest), else a simple reply.
Reply ErrorReply(const Request& q, const ExecContext& ctx, uint32_t error) {
  Reply r;
  if (ctx.structured) {
    ChunkHeader(&r.header, q.handle, kReplyTypeError, 6);
    AppendBE32(&r.header, error);
    AppendBE16(&r.header, 0);  // no message
  } else {
    SimpleReply(&r.header, q.handle, error);
  }
  return r;
}

Reply OkReply(const Request& q) {
  Reply r;
  SimpleReply(&r.header, q.handle, 0);
  return r;
}

Reply DoRead(const Request& q, const ExecContext& ctx) {
  Reply r;
  r.data = ctx.pool ? ctx.pool->Get(q.length) : BufferPool::Plain(q.length);
  r.size = q.length;
  Status s = ctx.target->backend->Read(q.offset, MutableByteSpan(r.data.get(), q.length));
  if (!s.ok()) {
    WarnFailure("read failed: " + s.ToString());
    return ErrorReply(q, ctx, ErrorFromStatus(s));
  }
  if (ctx.structured) {
    ChunkHeader(&r.header, q.handle, kReplyTypeOffsetData, 8 + q.length);
    AppendBE64(&r.header, q.offset);
  } else {
    SimpleReply(&r.header, q.handle, 0);
  }
  return r;
}

Reply DoBlockStatus(const Request& q, const ExecContext& ctx) {
  bool req_one = q.flags & kCmdFlagReqOne;
  std::vector<Extent> extents;
  Status s = ctx.target->backend->BlockStatus(q.offset, q.length,
                                              req_one ? 1 : ctx.max_extents, &extents);
  if (!s.ok()) return ErrorReply(q, ctx, ErrorFromStatus(s));
  // Keep the reply within the request and free of empty extents whatever the backend did.
  std::vector<Extent> clean;
  uint64_t left = q.length;
  for (const Extent& e : extents) {
    if (left == 0 || clean.size() >= (req_one ? 1 : ctx.max_extents)) break;
    uint64_t len = std::min<uint64_t>(e.length, left);
    if (len == 0) continue;
    clean.push_back({len, e.flags & (kStateHole | kStateZero)});
    left -= len;
  }
  if (clean.empty()) clean.push_back({q.length, 0});  // "allocated data" is always safe
  Reply r;
  ChunkHeader(&r.header, q.handle, kReplyTypeBlockStatus, uint32_t(4 + 8 * clean.size()));
  AppendBE32(&r.header, ctx.meta_context_id);
  for (const Extent& e : clean) {
    AppendBE32(&r.header, uint32_t(e.length));
    AppendBE32(&r.header, e.flags);
  }
  return r;
}

Reply Finish(const Request& q, const ExecContext& ctx, const Status& s, const char* what) {
  if (s.ok()) return OkReply(q);
  WarnFailure(std::string(what) + " failed: " + s.ToString());
  return ErrorReply(q, ctx, ErrorFromStatus(s));
}

}  // namespace

uint32_t ErrorFromStatus(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kNoSpace: return kENoSpc;
    case Code::kInvalidArgument: return kEInval;
    case Code::kFailedPrecondition: return kENotSup;
    case Code::kUnauthenticated: return kEPerm;
    default: return kEIo;
  }
}

Reply Execute(Request& q, const ExecContext& ctx) {
  if (q.error != 0) return ErrorReply(q, ctx, q.error);
  Backend& b = *ctx.target->backend;
  bool fua = q.flags & kCmdFlagFua;
  switch (q.type) {
    case kCmdRead: return DoRead(q, ctx);
    case kCmdWrite:
      return Finish(q, ctx, b.Write(q.offset, ByteSpan(q.payload.get(), q.length), fua), "write");
    case kCmdFlush: return Finish(q, ctx, b.Flush(), "flush");
    case kCmdTrim: return Finish(q, ctx, b.Trim(q.offset, q.length, fua), "trim");
    case kCmdCache: return OkReply(q);  // a hint; the page cache does the work
    case kCmdWriteZeroes: {
      ZeroMode mode{!(q.flags & kCmdFlagNoHole), bool(q.flags & kCmdFlagFastZero)};
      Status s = b.WriteZeroes(q.offset, q.length, mode, fua);
      // FAST_ZERO refusals are expected, not worth a warning.
      if (!s.ok() && mode.fast && s.code() == Code::kFailedPrecondition) {
        return ErrorReply(q, ctx, kENotSup);
      }
      return Finish(q, ctx, s, "write zeroes");
    }
    case kCmdBlockStatus: return DoBlockStatus(q, ctx);
    default: return ErrorReply(q, ctx, kEInval);  // the session never passes these on
  }
}

}  // namespace lifeline::nbd
