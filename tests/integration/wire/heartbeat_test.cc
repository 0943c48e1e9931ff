// Liveness over real sockets: a relay that silently black-holes the path (sockets stay
// open, nothing is forwarded) must be detected by heartbeats in about a second on both
// ends; an idle link must stay up; a slow reader is back-pressure, not death.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../../unit/wire/test_pki.h"
#include "../../unit/wire/test_vault.h"
#include "wire/messages.h"
#include "wire/transport.h"

namespace lifeline::wire {
namespace {

using Clock = std::chrono::steady_clock;

// Forwards TCP between a client and 127.0.0.1:target_port; Blackhole() stops forwarding
// in both directions without closing anything, like a dead path that drops packets.
class Relay {
 public:
  explicit Relay(uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Relay() {
    stop_ = true;
    accept_thread_.join();
    for (auto& t : pumps_) t.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  void Blackhole() { blackholed_ = true; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(target_port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }
  void Pump(int a, int b) {
    char buf[65536];
    while (!stop_) {
      if (blackholed_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          closed = true;
          break;
        }
        int to = i == 0 ? b : a;
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(to, buf + off, size_t(n - off));
          if (w <= 0) {
            closed = true;
            break;
          }
          off += w;
        }
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  uint16_t target_port_;
  int listen_fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> blackholed_{false};
  std::thread accept_thread_;
  std::vector<std::thread> pumps_;
};

Hello MakeHello() {
  Hello h;
  h.agent_id = "agent-1";
  h.disk_id = "d0";
  h.stream_count = 1;
  return h;
}

TEST(HeartbeatTest, BlackholedPathIsDetectedInAboutASecondOnBothEnds) {
  auto pki = testing::MakeTestPki();
  testing::MiniVault vault;
  auto server = Server::Start(ServerOptions{}, testing::ServerContext(pki),
                              [&](Connection& c) { vault.Serve(c); });
  ASSERT_TRUE(server.ok());
  Relay relay((*server)->port());
  auto conn =
      Connect(Endpoint{"127.0.0.1", relay.port()}, testing::ClientContext(pki.ca, pki.client));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  ASSERT_TRUE((*conn)->Send(Encode(MakeHello())).ok());
  auto ok = (*conn)->Receive(5000);
  ASSERT_TRUE(ok.ok() && ok->has_value());
  ASSERT_EQ((*ok)->type, FrameType::kHelloOk);
  // Healthy for a while: heartbeats flow through the relay.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE((*conn)->alive());
  EXPECT_EQ((*server)->active_sessions(), 1u);

  relay.Blackhole();
  auto t0 = Clock::now();
  auto r = (*conn)->Receive(5000);
  double client_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_FALSE(r.ok()) << "the client must notice the dead path";
  EXPECT_NE(r.status().message().find("heartbeat timeout"), std::string::npos)
      << r.status().ToString();
  EXPECT_GE(client_s, 0.7);
  EXPECT_LE(client_s, 2.0);
  // The vault side notices too and ends the session.
  while ((*server)->active_sessions() > 0 && Clock::now() - t0 < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  double server_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ((*server)->active_sessions(), 0u);
  EXPECT_LE(server_s, 2.0);
  std::printf("dead path detected after %.2f s (agent), %.2f s (vault)\n", client_s, server_s);
}

TEST(HeartbeatTest, IdleConnectionStaysUpAndMeasuresRoundTrip) {
  auto pki = testing::MakeTestPki();
  testing::MiniVault vault;
  auto server = Server::Start(ServerOptions{}, testing::ServerContext(pki),
                              [&](Connection& c) { vault.Serve(c); });
  ASSERT_TRUE(server.ok());
  auto conn =
      Connect(Endpoint{"127.0.0.1", (*server)->port()}, testing::ClientContext(pki.ca, pki.client));
  ASSERT_TRUE(conn.ok());
  auto idle = (*conn)->Receive(3000);  // nothing to receive for 3 s: only heartbeats
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  EXPECT_FALSE(idle->has_value());
  ConnectionStats st = (*conn)->stats();
  EXPECT_GE(st.heartbeats_received, 8u);
  EXPECT_GE(st.rtt_us, 0);
  ASSERT_TRUE((*conn)->Send(Encode(MakeHello())).ok());
  auto ok = (*conn)->Receive(5000);
  ASSERT_TRUE(ok.ok() && ok->has_value());
  EXPECT_EQ((*ok)->type, FrameType::kHelloOk);
}

TEST(HeartbeatTest, SlowReceiverIsBackPressureNotDeath) {
  std::atomic<uint64_t> received{0};
  auto server = Server::Start(ServerOptions{}, nullptr, [&](Connection& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // a stalled consumer
    for (;;) {
      auto r = c.Receive(5000);
      if (!r.ok() || !r->has_value()) return;
      if ((**r).type == FrameType::kWrite) received++;
    }
  });
  ASSERT_TRUE(server.ok());
  auto conn = Connect(Endpoint{"127.0.0.1", (*server)->port()}, nullptr);
  ASSERT_TRUE(conn.ok());
  auto data = std::make_shared<const std::string>(1 << 20, 'z');
  const int kFrames = 96;  // far more than both queues and socket buffers hold
  auto t0 = Clock::now();
  for (int i = 0; i < kFrames; ++i) {
    Status st =
        (*conn)->Send(BuildWrite(uint64_t(i) + 1, uint64_t(i) << 20, data, Codec::kNone, 0));
    ASSERT_TRUE(st.ok()) << "frame " << i << ": " << st.ToString();
  }
  double blocked_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(blocked_s, 1.5) << "Send() must block while the receiver stalls";
  (*conn)->Close();
  EXPECT_EQ((*conn)->status().message(), "connection closed");
  while (received.load() < uint64_t(kFrames) && Clock::now() - t0 < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(received.load(), uint64_t(kFrames));
}

}  // namespace
}  // namespace lifeline::wire
