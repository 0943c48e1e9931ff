// Feeds untrusted bytes to the NBD session state machine (handshake and transmission) and
// executes whatever requests it accepts against an in-memory disk: no input may crash it,
// make it read or write outside the disk, or break framing invariants.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common/status.h"
#include "nbd/executor.h"
#include "nbd/memory_backend.h"
#include "nbd/protocol.h"
#include "nbd/session.h"
#include "nbd/wire.h"

using namespace lifeline;
using namespace lifeline::nbd;

namespace {

constexpr uint64_t kDiskBytes = 256 << 10;

// The bytes a well-behaved client sends to reach transmission with structured replies and
// base:allocation, so the fuzzer starts deep in the request parser half of the time.
std::string Preamble() {
  std::string s;
  AppendBE32(&s, kClientFlagFixedNewstyle | kClientFlagNoZeroes);
  auto opt = [&](uint32_t o, const std::string& d) {
    AppendBE64(&s, kOptMagic);
    AppendBE32(&s, o);
    AppendBE32(&s, uint32_t(d.size()));
    s += d;
  };
  opt(kOptStructuredReply, "");
  std::string meta;
  AppendBE32(&meta, 0);
  AppendBE32(&meta, 1);
  AppendBE32(&meta, uint32_t(strlen(kBaseAllocation)));
  meta += kBaseAllocation;
  opt(kOptSetMetaContext, meta);
  std::string go;
  AppendBE32(&go, 0);
  AppendBE16(&go, 0);
  opt(kOptGo, go);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static ExportRegistry* registry = [] {
    auto* r = new ExportRegistry;
    (void)r->Add({"", "fuzz", std::make_shared<MemoryBackend>(kDiskBytes), false});
    (void)r->Add({"ro", "", std::make_shared<MemoryBackend>(4096), true});
    return r;
  }();
  uint8_t mode = data[0];
  size_t chunk = size_t(data[1]) + 1;  // feed in pieces of this size: framing must not care
  data += 2;
  size -= 2;

  SessionConfig cfg;
  cfg.registry = registry;
  cfg.tls_available = mode & 2;
  cfg.tls_required = mode & 4;
  cfg.limits.max_payload_bytes = 64 << 10;
  cfg.limits.drain_limit_bytes = 128 << 10;
  Session s(cfg);
  s.Start();
  std::string input = (mode & 1) ? Preamble() : std::string();
  input.append(reinterpret_cast<const char*>(data), size);

  ExecContext ctx;
  size_t pos = 0;
  int stalls = 0;
  while (pos < input.size() && stalls < 2) {
    size_t n = std::min(chunk, input.size() - pos);
    size_t used = s.Feed(ByteSpan(reinterpret_cast<const uint8_t*>(input.data()) + pos, n));
    LL_CHECK(used <= n);
    pos += used;
    (void)s.TakeOutput();
    if (s.phase() == Session::Phase::kStartTls) s.TlsEstablished();
    if (s.HasRequest()) {
      Request q = s.PopRequest();
      ctx.target = s.bound_export().get();
      ctx.structured = s.structured_replies();
      ctx.meta_context_id = s.meta_context_id();
      LL_CHECK(ctx.target != nullptr);
      // The session must never pass on an out-of-range or oversized request.
      if (q.error == 0 && q.type != kCmdFlush) {
        LL_CHECK(q.offset + q.length <= ctx.target->backend->size());
        LL_CHECK(q.length <= cfg.limits.max_payload_bytes || q.type != kCmdRead);
      }
      Reply r = Execute(q, ctx);
      LL_CHECK(r.header.size() >= kSimpleReplyBytes);
    }
    stalls = (used == 0 && !s.HasRequest()) ? stalls + 1 : 0;
    if (s.phase() == Session::Phase::kClosed) break;
  }
  return 0;
}
