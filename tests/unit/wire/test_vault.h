// Test helper: a minimal vault-side handler that answers HELLO (refusing bad stream
// counts with an ERROR) and acknowledges WRITEs by seq. Thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "wire/connection.h"
#include "wire/messages.h"

namespace lifeline::wire::testing {

struct MiniVault {
  std::atomic<int> sessions{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> bytes{0};
  std::mutex mu;
  std::string last_identity;  // guarded by mu
  std::string identity() {
    std::lock_guard<std::mutex> l(mu);
    return last_identity;
  }

  void Serve(Connection& conn) {
    sessions++;
    for (;;) {
      auto r = conn.Receive(-1);
      if (!r.ok() || !r->has_value()) return;
      Frame& f = **r;
      switch (f.type) {
        case FrameType::kHello: {
          auto h = DecodeHello(f);
          if (!h.ok()) {
            conn.CloseWithError(h.status());
            return;
          }
          {
            std::lock_guard<std::mutex> l(mu);
            last_identity = conn.peer_identity();
          }
          (void)conn.Send(Encode(HelloOk{kProtocolVersion, h->acked_seq, kMaxPayloadBytes, 250}));
          break;
        }
        case FrameType::kWrite: {
          auto w = DecodeWrite(f);
          if (!w.ok()) {
            conn.CloseWithError(w.status());
            return;
          }
          writes++;
          bytes += w->length;
          (void)conn.Send(Encode(Ack{w->seq}));
          break;
        }
        default:
          break;
      }
    }
  }
};

}  // namespace lifeline::wire::testing
