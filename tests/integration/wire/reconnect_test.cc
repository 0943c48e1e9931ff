// The transport's reconnect contract, end to end with a minimal agent loop: after the
// vault restarts, the agent tries the next address, backs off, reconnects, learns the
// durable seq from HELLO_OK and resends exactly the writes above it. Nothing acknowledged
// is resent, nothing is lost.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "wire/backoff.h"
#include "wire/messages.h"
#include "wire/seq.h"
#include "wire/transport.h"

namespace lifeline::wire {
namespace {

// A port nothing listens on (bound, then released): connecting to it is refused.
uint16_t DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Vault state that survives a vault restart (as the replica store would).
struct DurableVault {
  std::mutex mu;
  SeqWatermark watermark;
  std::multiset<uint64_t> received;
  uint64_t resent_at_or_below_durable = 0;

  void Serve(Connection& c) {
    uint64_t durable_at_hello = 0;
    for (;;) {
      auto r = c.Receive(-1);
      if (!r.ok() || !r->has_value()) return;
      Frame& f = **r;
      std::lock_guard<std::mutex> l(mu);
      if (f.type == FrameType::kHello) {
        if (!DecodeHello(f).ok()) return;
        durable_at_hello = watermark.watermark();
        (void)c.Send(Encode(HelloOk{kProtocolVersion, durable_at_hello, kMaxPayloadBytes, 250}));
      } else if (f.type == FrameType::kWrite) {
        auto w = DecodeWrite(f);
        if (!w.ok()) return;
        if (w->seq <= durable_at_hello) resent_at_or_below_durable++;
        received.insert(w->seq);
        (void)watermark.Mark(w->seq);
        (void)c.Send(Encode(Ack{watermark.watermark()}));
      }
    }
  }
};

TEST(ReconnectTest, VaultRestartLosesNothingAndResendsOnlyUnacknowledged) {
  DurableVault vault;
  auto handler = [&](Connection& c) { vault.Serve(c); };
  auto first = Server::Start(ServerOptions{}, nullptr, handler);
  ASSERT_TRUE(first.ok());
  const uint16_t port = (*first)->port();
  std::vector<Endpoint> addresses = {{"127.0.0.1", port}, {"127.0.0.1", DeadPort()}};

  const uint64_t kWrites = 200;
  std::map<uint64_t, OutFrame> unacked;  // the agent keeps every write until acknowledged
  uint64_t acked = 0, next_seq = 1;
  auto data = std::make_shared<const std::string>(64 * 1024, 'w');
  Reconnector reconnect(addresses.size(), Backoff(20, 200, 2.0, 0.2, /*seed=*/5));
  std::unique_ptr<Server> second;
  int sessions = 0, failed_attempts = 0;

  auto absorb_ack = [&](const Frame& f) {
    auto a = DecodeAck(f);
    ASSERT_TRUE(a.ok());
    acked = std::max(acked, a->durable_seq);
    unacked.erase(unacked.begin(), unacked.upper_bound(acked));
  };

  while (acked < kWrites) {
    ASSERT_LT(failed_attempts, 50) << "never reconnected";
    auto conn = Connect(addresses[reconnect.current()], nullptr);
    if (!conn.ok()) {
      ReconnectAttempt next = reconnect.OnFailure();
      failed_attempts++;
      std::this_thread::sleep_for(std::chrono::milliseconds(next.delay_ms));
      continue;
    }
    Hello h;
    h.agent_id = "agent-1";
    h.disk_id = "d0";
    h.acked_seq = acked;
    h.next_seq = unacked.empty() ? next_seq : unacked.begin()->first;
    bool ok = (*conn)->Send(Encode(h)).ok();
    auto hello_ok =
        ok ? (*conn)->Receive(3000) : Result<std::optional<Frame>>(Status::IOError("x"));
    if (!hello_ok.ok() || !hello_ok->has_value()) {
      reconnect.OnFailure();
      failed_attempts++;
      continue;
    }
    auto ho = DecodeHelloOk(**hello_ok);
    ASSERT_TRUE(ho.ok());
    reconnect.OnConnected();
    sessions++;
    // Everything the vault already holds durably is dropped, the rest resent in order.
    acked = std::max(acked, ho->durable_seq);
    unacked.erase(unacked.begin(), unacked.upper_bound(acked));
    bool broken = false;
    for (auto& [seq, frame] : unacked)
      if (!(*conn)->Send(frame).ok()) broken = true;
    while (!broken && acked < kWrites) {
      if (next_seq <= kWrites) {
        OutFrame f = BuildWrite(next_seq, next_seq * data->size(), data, Codec::kNone, 0);
        unacked.emplace(next_seq, f);
        if (!(*conn)->Send(std::move(f)).ok()) broken = true;
        next_seq++;
      }
      auto r = (*conn)->Receive(next_seq > kWrites ? 1000 : 0);
      if (!r.ok())
        broken = true;
      else if (r->has_value())
        absorb_ack(**r);
      // Halfway, the vault restarts on the same port (its durable state survives).
      if (next_seq == kWrites / 2 && sessions == 1 && !second) {
        (*first)->Stop();
        ServerOptions o;
        o.port = port;
        auto restarted = Server::Start(o, nullptr, handler);
        ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
        second = std::move(*restarted);
      }
    }
    if (broken) {
      ReconnectAttempt next = reconnect.OnFailure();
      EXPECT_EQ(next.address_index, 1u) << "the next address is tried first";
      EXPECT_EQ(next.delay_ms, 0);
    }
  }
  EXPECT_GE(sessions, 2);
  EXPECT_GE(failed_attempts, 1);  // the dead second address
  std::lock_guard<std::mutex> l(vault.mu);
  EXPECT_EQ(vault.watermark.watermark(), kWrites);
  for (uint64_t s = 1; s <= kWrites; ++s)
    EXPECT_GE(vault.received.count(s), 1u) << "lost seq " << s;
  EXPECT_EQ(vault.resent_at_or_below_durable, 0u);
}

}  // namespace
}  // namespace lifeline::wire
