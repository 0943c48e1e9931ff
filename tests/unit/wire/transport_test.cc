// TLS transport on 127.0.0.1 port 0: exchange, mutual authentication refusals with
// logged reasons, and isolation of a malformed peer from the others.
#include "wire/transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_pki.h"
#include "test_vault.h"
#include "wire/messages.h"

namespace lifeline::wire {
namespace {

using testing::MiniVault;

// Tests here are not about heartbeats: a generous timeout keeps them steady on a loaded
// machine or under sanitizers (tests/integration/wire/heartbeat_test.cc covers 1 s).
constexpr int64_t kRelaxedDeadMs = 10000;

ConnectOptions Relaxed() {
  ConnectOptions o;
  o.connection.dead_after_ms = kRelaxedDeadMs;
  return o;
}

ServerOptions RelaxedServer() {
  ServerOptions o;
  o.connection.dead_after_ms = kRelaxedDeadMs;
  return o;
}

std::unique_ptr<Server> StartVault(std::shared_ptr<TlsContext> tls, MiniVault* vault) {
  auto s =
      Server::Start(RelaxedServer(), std::move(tls), [vault](Connection& c) { vault->Serve(c); });
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_NE((*s)->port(), 0);
  return std::move(*s);
}

Endpoint Local(const Server& s) { return Endpoint{"127.0.0.1", s.port()}; }

Result<Frame> Next(Connection& c, int64_t timeout_ms = 5000) {
  LL_ASSIGN_OR_RETURN(std::optional<Frame> f, c.Receive(timeout_ms));
  if (!f) return Status::Busy("no frame within " + std::to_string(timeout_ms) + " ms");
  return std::move(*f);
}

Hello MakeHello(uint16_t count = 4, uint16_t index = 0) {
  Hello h;
  h.agent_id = "agent-1";
  h.machine = "m1";
  h.disk_id = "m1-disk0";
  h.stream_count = count;
  h.stream_index = index;
  h.acked_seq = 10;
  return h;
}

// HELLO, then `n` writes with acks; checks every ack.
void Exchange(Connection& c, uint64_t first_seq, int n) {
  ASSERT_TRUE(c.Send(Encode(MakeHello())).ok());
  auto ok = Next(c);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto hello_ok = DecodeHelloOk(*ok);
  ASSERT_TRUE(hello_ok.ok());
  EXPECT_EQ(hello_ok->durable_seq, 10u);
  auto data = std::make_shared<const std::string>(256 * 1024, 'q');
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(
        c.Send(BuildWrite(first_seq + i, uint64_t(i) * data->size(), data, Codec::kNone, 0)).ok());
  for (int i = 0; i < n; ++i) {
    auto f = Next(c);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto ack = DecodeAck(*f);
    ASSERT_TRUE(ack.ok());
    EXPECT_EQ(ack->durable_seq, first_seq + i);
  }
}

TEST(TransportTest, TlsExchangeWithMutualAuthentication) {
  auto pki = testing::MakeTestPki("agent-1");
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), Relaxed());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Exchange(**conn, 100, 20);
  EXPECT_EQ(vault.writes.load(), 20u);
  EXPECT_EQ(vault.identity(), "agent-1");
  EXPECT_EQ((*conn)->peer_identity(), "vault");
  ConnectionStats st = (*conn)->stats();
  EXPECT_GE(st.bytes_sent, 20u * 256 * 1024);
  (*conn)->Close();
  EXPECT_EQ(server->refused(), 0u);
}

TEST(TransportTest, PlainTcpWhenInsecure) {
  MiniVault vault;
  auto server = StartVault(nullptr, &vault);
  auto conn = Connect(Local(*server), nullptr, Relaxed());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Exchange(**conn, 1, 5);
  EXPECT_EQ((*conn)->peer_identity(), "");
}

// Small frames are written together and read ahead, large ones in place: a stream that
// mixes the two (sizes on both sides of each threshold) arrives whole and in order, as
// every frame's checksum and every ack's seq show.
void MixedSizes(std::shared_ptr<TlsContext> server_tls, std::shared_ptr<TlsContext> client_tls) {
  MiniVault vault;
  auto server = StartVault(std::move(server_tls), &vault);
  auto conn = Connect(Local(*server), std::move(client_tls), Relaxed());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Connection& c = **conn;
  ASSERT_TRUE(c.Send(Encode(MakeHello())).ok());
  ASSERT_TRUE(Next(c).ok());
  const size_t sizes[] = {1, 512, 4096, 32 * 1024 - 100, 32 * 1024, 64 * 1024, 200 * 1024};
  constexpr int kFrames = 3000;
  uint64_t expect_bytes = 0;
  for (int i = 0; i < kFrames; ++i) {
    size_t len = sizes[(i * 7 + i / 5) % std::size(sizes)];
    auto data = std::make_shared<const std::string>(len, char('a' + i % 26));
    expect_bytes += len;
    ASSERT_TRUE(c.Send(BuildWrite(1000 + i, uint64_t(i) * 4096, data, Codec::kNone, 0)).ok());
  }
  for (int i = 0; i < kFrames; ++i) {
    auto f = Next(c);
    ASSERT_TRUE(f.ok()) << "ack " << i << ": " << f.status().ToString();
    auto ack = DecodeAck(*f);
    ASSERT_TRUE(ack.ok());
    ASSERT_EQ(ack->durable_seq, 1000u + i);
  }
  EXPECT_EQ(vault.writes.load(), uint64_t(kFrames));
  EXPECT_EQ(vault.bytes.load(), expect_bytes);
  ConnectionStats st = c.stats();
  EXPECT_GE(st.frames_sent, uint64_t(kFrames) + 1);
  EXPECT_GE(st.bytes_sent, expect_bytes);
  EXPECT_TRUE(c.alive());
  c.Close();
}

TEST(TransportTest, MixedFrameSizesArriveWholeAndInOrderOverTls) {
  auto pki = testing::MakeTestPki("agent-1");
  MixedSizes(testing::ServerContext(pki), testing::ClientContext(pki.ca, pki.client));
}

TEST(TransportTest, MixedFrameSizesArriveWholeAndInOrderOverPlainTcp) {
  MixedSizes(nullptr, nullptr);
}

// Coalescing (ConnectionOptions::coalesce_us): a lone small WRITE waits for its hold; a
// frame of another kind, or enough queued bytes, sends what is queued at once.
TEST(TransportTest, CoalescingHoldsSmallWritesUntilTimeBytesOrAnotherFrame) {
  MiniVault vault;
  auto server = StartVault(nullptr, &vault);
  ConnectOptions o = Relaxed();
  o.connection.coalesce_us = 3'000'000;  // long, so that "held" and "at once" differ clearly
  o.connection.coalesce_bytes = 64 * 1024;
  auto conn = Connect(Local(*server), nullptr, o);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Connection& c = **conn;
  ASSERT_TRUE(c.Send(Encode(MakeHello())).ok());  // not a WRITE: goes at once
  ASSERT_TRUE(Next(c, 2000).ok());
  auto small = std::make_shared<const std::string>(4096, 'h');
  auto elapsed_ms = [](auto t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  };
  // Alone: held for about the hold time.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send(BuildWrite(1, 0, small, Codec::kNone, 0)).ok());
  auto ack = Next(c, 10000);
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  EXPECT_GE(elapsed_ms(t0), 2900);
  // Followed by another kind of frame: both go at once.
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send(BuildWrite(2, 0, small, Codec::kNone, 0)).ok());
  ASSERT_TRUE(c.Send(Encode(MakeHello())).ok());
  ack = Next(c, 10000);
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  EXPECT_EQ(DecodeAck(*ack)->durable_seq, 2u);
  EXPECT_LT(elapsed_ms(t0), 2000);
  ASSERT_TRUE(Next(c, 5000).ok());  // the HELLO's answer
  // Enough bytes for a batch: at once. The frame that fills it is the last one sent (a
  // frame sent after a batch has left would start a new hold).
  const size_t frame_bytes = BuildWrite(3, 0, small, Codec::kNone, 0).size();
  const int batch = int((o.connection.coalesce_bytes + frame_bytes - 1) / frame_bytes);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < batch; ++i)
    ASSERT_TRUE(c.Send(BuildWrite(3 + i, 0, small, Codec::kNone, 0)).ok());
  for (int i = 0; i < batch; ++i) {
    ack = Next(c, 10000);
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
    EXPECT_EQ(DecodeAck(*ack)->durable_seq, 3u + i);
  }
  EXPECT_LT(elapsed_ms(t0), 2000);
  EXPECT_EQ(vault.writes.load(), 2u + uint64_t(batch));
  c.Close();
}

TEST(TransportTest, TlsContextRefusesMissingMaterialUnlessInsecure) {
  TlsConfig c;
  auto r = TlsContext::Create(c, TlsRole::kServer);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--insecure"), std::string::npos);
  c.insecure = true;
  auto plain = TlsContext::Create(c, TlsRole::kServer);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, nullptr);
}

TEST(TransportTest, ClientRefusesAServerFromAnotherCa) {
  auto pki = testing::MakeTestPki();
  auto other = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  // The client trusts another CA (its cert is from that CA too).
  auto conn = Connect(Local(*server), testing::ClientContext(other.ca, other.client), Relaxed());
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), Code::kUnauthenticated);
  EXPECT_NE(conn.status().message().find("server certificate rejected"), std::string::npos)
      << conn.status().ToString();
  EXPECT_EQ(vault.sessions.load(), 0);
}

TEST(TransportTest, ClientChecksTheServerName) {
  auto pki = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  ConnectOptions o = Relaxed();
  o.server_name = "vault.elsewhere.example";
  auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), o);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), Code::kUnauthenticated);
  o.server_name = "localhost";
  EXPECT_TRUE(Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), o).ok());
}

// Waits until the server has counted `n` refusals (the handshake runs on its own thread).
std::vector<std::string> WaitRefusals(const Server& s, uint64_t n) {
  for (int i = 0; i < 500 && s.refused() < n; ++i) usleep(10 * 1000);
  return s.recent_refusals();
}

// A refused client may finish its TLS 1.3 handshake; the refusal then shows on first use.
void ExpectClientRefused(Result<std::unique_ptr<Connection>>& conn) {
  if (!conn.ok()) return;
  (void)(*conn)->Send(Encode(MakeHello()));
  auto f = (*conn)->Receive(3000);
  EXPECT_FALSE(f.ok()) << "a refused client must not get frames";
}

TEST(TransportTest, ExpiredClientCertificateIsRefusedWithALoggedReason) {
  auto pki = testing::MakeTestPki();
  auto expired = testing::MakeClientCert(pki.ca, "agent-old", Validity{-7200, 3600});
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, expired), Relaxed());
  ExpectClientRefused(conn);
  auto reasons = WaitRefusals(*server, 1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("certificate has expired"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[0].find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(vault.sessions.load(), 0);
}

TEST(TransportTest, ClientCertificateFromAnotherCaIsRefused) {
  auto pki = testing::MakeTestPki();
  auto other = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  // Trusts the right CA for the server, but presents a certificate from another CA.
  auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, other.client), Relaxed());
  ExpectClientRefused(conn);
  auto reasons = WaitRefusals(*server, 1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("client certificate rejected"), std::string::npos) << reasons[0];
  EXPECT_EQ(vault.sessions.load(), 0);
}

TEST(TransportTest, ServerCertificateIsNotAcceptedAsClientCertificate) {
  auto pki = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, pki.server), Relaxed());
  ExpectClientRefused(conn);
  auto reasons = WaitRefusals(*server, 1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("rejected"), std::string::npos) << reasons[0];
}

TEST(TransportTest, NoClientCertificateIsRefused) {
  auto pki = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  // A bare OpenSSL client that trusts the CA but has no certificate of its own.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_connect(ssl);  // may succeed: TLS 1.3 checks the client after the client finishes
  char buf[16];
  EXPECT_LE(SSL_read(ssl, buf, sizeof buf), 0);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  auto reasons = WaitRefusals(*server, 1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("did not return a certificate"), std::string::npos) << reasons[0];
  EXPECT_EQ(vault.sessions.load(), 0);
}

TEST(TransportTest, MalformedFrameClosesOnlyThatConnection) {
  auto pki = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  auto good = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), Relaxed());
  auto bad = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), Relaxed());
  ASSERT_TRUE(good.ok() && bad.ok());
  Exchange(**good, 1, 3);

  // Bad magic inside a valid TLS stream.
  OutFrame garbage = Encode(Ack{1});
  garbage.head[0] = 'X';
  ASSERT_TRUE((*bad)->Send(std::move(garbage)).ok());
  auto f = Next(**bad);
  ASSERT_TRUE(f.ok()) << "expected an ERROR frame: " << f.status().ToString();
  ASSERT_EQ(f->type, FrameType::kError);
  auto err = DecodeError(*f);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, Code::kCorruption);
  EXPECT_NE(err->message.find("magic"), std::string::npos) << err->message;
  auto after = (*bad)->Receive(3000);
  EXPECT_FALSE(after.ok()) << "the malformed peer's connection must be closed";

  // The other connection keeps working, and new ones are accepted.
  Exchange(**good, 100, 5);
  auto third = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), Relaxed());
  ASSERT_TRUE(third.ok());
  Exchange(**third, 200, 2);
}

TEST(TransportTest, BadStreamCountInHelloIsRefusedWithAClearMessage) {
  MiniVault vault;
  auto server = StartVault(nullptr, &vault);
  for (uint16_t count : {uint16_t(0), uint16_t(33)}) {
    auto conn = Connect(Local(*server), nullptr, Relaxed());
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Send(Encode(MakeHello(count, 0))).ok());
    auto f = Next(**conn);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto err = DecodeError(*f);
    ASSERT_TRUE(err.ok());
    EXPECT_EQ(err->code, Code::kInvalidArgument);
    EXPECT_NE(err->message.find("between 1 and 32"), std::string::npos) << err->message;
  }
}

TEST(TransportTest, ParallelStreamsShareTheServer) {
  auto pki = testing::MakeTestPki();
  MiniVault vault;
  auto server = StartVault(testing::ServerContext(pki), &vault);
  std::vector<std::thread> threads;
  for (int s = 0; s < 8; ++s)
    threads.emplace_back([&, s] {
      auto conn = Connect(Local(*server), testing::ClientContext(pki.ca, pki.client), Relaxed());
      ASSERT_TRUE(conn.ok());
      Exchange(**conn, uint64_t(s) * 1000, 10);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(vault.writes.load(), 80u);
}

TEST(TransportTest, ConnectionLimitRefusesExtraSockets) {
  MiniVault vault;
  ServerOptions o = RelaxedServer();
  o.max_connections = 1;
  auto server = Server::Start(o, nullptr, [&](Connection& c) { vault.Serve(c); });
  ASSERT_TRUE(server.ok());
  auto first = Connect(Endpoint{"127.0.0.1", (*server)->port()}, nullptr, Relaxed());
  ASSERT_TRUE(first.ok());
  Exchange(**first, 1, 1);  // the first session is established and counted
  auto second = Connect(Endpoint{"127.0.0.1", (*server)->port()}, nullptr, Relaxed());
  ASSERT_TRUE(second.ok());  // TCP accepts; the server closes it at once
  auto r = (*second)->Receive(3000);
  EXPECT_FALSE(r.ok());
  auto reasons = WaitRefusals(**server, 1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("connection limit of 1"), std::string::npos) << reasons[0];
  Exchange(**first, 10, 1);  // the first is unaffected
}

TEST(TransportTest, PeerCloseEndsReceiveAfterQueuedFrames) {
  auto server = Server::Start(RelaxedServer(), nullptr, [](Connection& c) {
    (void)c.Send(Encode(Ack{1}));
    (void)c.Send(Encode(Ack{2}));
    c.CloseWithError(Status::FailedPrecondition("disk is being failed over"));
  });
  ASSERT_TRUE(server.ok());
  auto conn = Connect(Endpoint{"127.0.0.1", (*server)->port()}, nullptr, Relaxed());
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(DecodeAck(*Next(**conn))->durable_seq, 1u);
  EXPECT_EQ(DecodeAck(*Next(**conn))->durable_seq, 2u);
  auto err = DecodeError(*Next(**conn));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->ToStatus().code(), Code::kFailedPrecondition);
  auto end = (*conn)->Receive(3000);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), Code::kIOError);
  EXPECT_NE(end.status().message().find("closed the connection"), std::string::npos);
  EXPECT_FALSE((*conn)->Send(Encode(Ack{3})).ok());
}

TEST(TransportTest, SilenceVerdictAllowsForOurOwnStarvationOnly) {
  ConnectionOptions o;  // dead after 1000 ms, allowance up to 2000 ms
  EXPECT_FALSE(PeerSilenceIsDeath(900, 0, o));
  EXPECT_TRUE(PeerSilenceIsDeath(1001, 0, o));     // healthy host: about a second
  EXPECT_FALSE(PeerSilenceIsDeath(1400, 500, o));  // we lost 500 ms ourselves
  EXPECT_TRUE(PeerSilenceIsDeath(1501, 500, o));
  EXPECT_TRUE(PeerSilenceIsDeath(3001, 60000, o));  // the allowance is capped
  o.max_starvation_allowance_ms = 0;
  EXPECT_TRUE(PeerSilenceIsDeath(1001, 500, o));
  EXPECT_GE(ThreadRunQueueWaitNs(), 0) << "the kernel reports run-queue waits";
}

TEST(TransportTest, EndpointParsing) {
  auto e = Endpoint::Parse("127.0.0.1:7000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7000);
  auto v6 = Endpoint::Parse("[::1]:9");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:9");
  for (const char* bad : {"nohost", ":80", "h:0", "h:70000", "h:x", "[::1]9"})
    EXPECT_FALSE(Endpoint::Parse(bad).ok()) << bad;
}

}  // namespace
}  // namespace lifeline::wire
