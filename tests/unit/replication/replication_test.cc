// Replication end to end inside one process: a vault ReplicationService writing to a replica
// store, an agent DiskSender + ScanCapture reading a real image file, over TLS on loopback.
// Initial + delta byte-equal, resync after a lost hash map, vault restart, a black-holed
// path, refusals, and a full vault disk.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/scan_capture.h"
#include "common/fault_fs.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"
#include "wire/pki.h"
#include "../wire/test_pki.h"

namespace lifeline {
namespace {

namespace fs = std::filesystem;
using wire::testing::ClientContext;
using wire::testing::MakeTestPki;
using wire::testing::ServerContext;

std::string TempDir() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto d = fs::temp_directory_path() / ("ll-repl-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

void WriteRandom(const std::string& path, uint64_t offset, uint64_t len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string buf(len, '\0');
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t v = rng();
    std::memcpy(buf.data() + i, &v, 8);
  }
  auto f = std::move(FileSystem::Posix()->Open(path, OpenMode::kCreate)).value();
  ASSERT_TRUE(f->WriteAt(offset, buf.data(), len).ok());
}

std::string ReadFile(const std::string& path) { return *ReadWholeFile(FileSystem::Posix(), path, 1ull << 30); }

constexpr uint64_t kDisk = 32u << 20;

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    pki_ = MakeTestPki("agent-1");
    image_ = dir_ + "/disk.img";
    {
      auto f = std::move(FileSystem::Posix()->Open(image_, OpenMode::kTruncate)).value();
      ASSERT_TRUE(f->Truncate(kDisk).ok());
    }
    WriteRandom(image_, 0, kDisk / 2, 1);  // half data, half hole
    store_ = std::move(store::ReplicaStore::Open(dir_ + "/store", {store_fs_})).value();
    ASSERT_TRUE(store_->CreateDisk("web-os", kDisk).ok());
    StartVault(0);
  }
  void TearDown() override {
    capture_.reset();
    sender_.reset();
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void StartVault(uint16_t port) {
    vault::ReplicationOptions opts;
    opts.server.port = port;
    auto svc = vault::ReplicationService::Start(opts, ServerContext(pki_), [this](const std::string& agent, const wire::Hello& h)
                                                    -> Result<store::DiskReplica*> {
      if (agent != "agent-1") return Status::Unauthenticated("agent " + agent + " is not registered");
      if (h.disk_id != "web-os") return Status::NotFound("no protected disk " + h.disk_id);
      return store_->Disk(h.disk_id);
    });
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    service_ = std::move(svc).value();
    port_ = service_->port();
  }
  agent::SenderOptions SenderOpts() {
    agent::SenderOptions o;
    o.vaults = {{"127.0.0.1", port_}};
    o.tls = ClientContext(pki_.ca, pki_.client);
    o.agent_id = "agent-1";
    o.machine = "web";
    o.disk_id = "web-os";
    o.disk_size_bytes = kDisk;
    o.streams = 4;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 500;
    return o;
  }
  void StartAgent(agent::SenderOptions o) {
    sender_ = std::make_unique<agent::DiskSender>(o);
    auto durable = sender_->Start(10000);
    ASSERT_TRUE(durable.ok()) << durable.status().ToString();
    agent::ScanOptions so;
    so.disk_path = image_;
    so.state_dir = dir_ + "/agent-state";
    so.read_bytes = 1u << 20;
    capture_ = std::make_unique<agent::ScanCapture>(so, sender_.get());
  }
  // The replica's newest state equals the image, byte for byte.
  void ExpectReplicaEqualsImage() {
    auto* d = *store_->Disk("web-os");
    std::string out = dir_ + "/restored.img";
    ASSERT_TRUE(d->Materialize(d->durable_seq(), out).ok());
    EXPECT_TRUE(ReadFile(out) == ReadFile(image_)) << "replica differs from the source";
  }
  std::string dir_, image_;
  FileSystem* store_fs_ = nullptr;
  wire::testing::TestPki pki_;
  std::unique_ptr<store::ReplicaStore> store_;
  std::unique_ptr<vault::ReplicationService> service_;
  uint16_t port_ = 0;
  std::unique_ptr<agent::DiskSender> sender_;
  std::unique_ptr<agent::ScanCapture> capture_;
};

TEST_F(ReplicationTest, InitialThenDeltaAreByteEqualWithPoints) {
  StartAgent(SenderOpts());
  auto initial = capture_->RunOnce();
  ASSERT_TRUE(initial.ok()) << initial.status().ToString();
  EXPECT_EQ(initial->phase, "initial-replication");
  EXPECT_EQ(initial->bytes_sent, kDisk / 2) << "holes must not be sent as data";
  ExpectReplicaEqualsImage();
  // Change 1% of the 64 KiB blocks.
  for (int i = 0; i < 5; ++i) WriteRandom(image_, uint64_t(i) * 97 * 65536, 65536, 100 + i);
  auto delta = capture_->RunOnce();
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(delta->phase, "cycle");
  EXPECT_EQ(delta->blocks_changed, 5u);
  EXPECT_EQ(delta->bytes_sent, 5u * 65536);
  ExpectReplicaEqualsImage();
  auto points = (*store_->Disk("web-os"))->Points();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].label, "initial-replication");
  EXPECT_EQ(points[1].seq, delta->point_seq);
  // An unchanged disk sends nothing and still ends with a point.
  auto idle = capture_->RunOnce();
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle->blocks_changed, 0u);
}

TEST_F(ReplicationTest, LostHashMapResyncsOnlyDifferingBlocks) {
  StartAgent(SenderOpts());
  ASSERT_TRUE(capture_->RunOnce().ok());
  capture_.reset();
  sender_.reset();
  fs::remove_all(dir_ + "/agent-state");
  WriteRandom(image_, 3 * 65536, 65536, 77);
  WriteRandom(image_, kDisk - 65536, 65536, 78);  // in the former hole
  StartAgent(SenderOpts());
  auto r = capture_->RunOnce();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->phase, "resync");
  EXPECT_EQ(r->blocks_changed, 2u);
  ExpectReplicaEqualsImage();
}

TEST_F(ReplicationTest, VaultRestartMidTransferLosesNothing) {
  WriteRandom(image_, 0, kDisk, 5);  // all data: a longer transfer
  auto o = SenderOpts();
  o.codec = Codec::kNone;
  StartAgent(o);
  std::thread restarter([&] {
    while (sender_->acked_seq() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    service_->Stop();
    service_.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    StartVault(port_);  // same address: the agent reconnects by itself
  });
  auto r = capture_->RunOnce();
  restarter.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(sender_->stats().reconnects, 1u);
  ExpectReplicaEqualsImage();
}

// A TCP relay that can be told to stop forwarding while keeping both sockets open: the
// path goes silent, as a black-holed circuit does.
class BlackHoleProxy {
 public:
  explicit BlackHoleProxy(uint16_t target) : target_(target) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 64);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Accept(); });
  }
  ~BlackHoleProxy() {
    stop_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    ::close(listen_);
    thread_.join();
    for (auto& t : pumps_) t.join();
  }
  uint16_t port() const { return port_; }
  void BlackHole() { black_hole_ = true; }

 private:
  void Accept() {
    while (!stop_) {
      int c = ::accept(listen_, nullptr, nullptr);
      if (c < 0) return;
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(c);
        ::close(s);
        continue;
      }
      pumps_.emplace_back([this, c, s] { Pump(c, s); });
    }
  }
  void Pump(int a, int b) {
    char buf[65536];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (black_hole_) {  // hold the sockets, forward nothing
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (::poll(fds, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(a);
          ::close(b);
          return;
        }
        if (::write(fds[1 - i].fd, buf, size_t(n)) != n) {
          ::close(a);
          ::close(b);
          return;
        }
      }
    }
    ::close(a);
    ::close(b);
  }
  uint16_t target_, port_ = 0;
  int listen_ = -1;
  std::atomic<bool> stop_{false}, black_hole_{false};
  std::thread thread_;
  std::vector<std::thread> pumps_;
};

TEST_F(ReplicationTest, BlackHoledPathIsDetectedAndTheNextAddressTaken) {
  WriteRandom(image_, 0, kDisk, 9);
  BlackHoleProxy proxy(port_);
  auto o = SenderOpts();
  o.codec = Codec::kNone;
  o.vaults = {{"127.0.0.1", proxy.port()}, {"127.0.0.1", port_}};  // circuit, then backup
  StartAgent(o);
  EXPECT_EQ(sender_->stats().vault, "127.0.0.1:" + std::to_string(proxy.port()));
  std::atomic<int64_t> cut_ms{0}, switched_ms{0};
  std::thread watcher([&] {
    while (sender_->acked_seq() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    proxy.BlackHole();
    auto t0 = std::chrono::steady_clock::now();
    cut_ms = 1;
    while (sender_->stats().vault != "127.0.0.1:" + std::to_string(port_) || !sender_->stats().connected)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    switched_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  });
  auto r = capture_->RunOnce();
  watcher.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::printf("black hole detected and path switched in %lld ms\n", (long long)switched_ms.load());
  EXPECT_LT(switched_ms.load(), 3000) << "heartbeats should notice a silent path in about a second";
  ExpectReplicaEqualsImage();
}

TEST_F(ReplicationTest, RefusalsAreClear) {
  // Unknown disk: refused by the vault with NotFound.
  auto o = SenderOpts();
  o.disk_id = "db-os";
  agent::DiskSender unknown(o);
  auto r = unknown.Start(3000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  // A client certificate from another CA: the TLS handshake is refused.
  auto other = MakeTestPki("agent-1");
  o = SenderOpts();
  o.tls = ClientContext(pki_.ca, other.client);
  agent::DiskSender stranger(o);
  EXPECT_FALSE(stranger.Start(2000).ok());
  EXPECT_GE(service_->server().refused(), 1u);
  // Stream counts outside 1..32.
  for (int n : {0, 33}) {
    o = SenderOpts();
    o.streams = n;
    agent::DiskSender bad(o);
    auto s = bad.Start(1000);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
    EXPECT_NE(s.status().message().find("32"), std::string::npos) << s.status().message();
  }
  // The disk changed size.
  o = SenderOpts();
  o.disk_size_bytes = kDisk * 2;
  agent::DiskSender resized(o);
  auto z = resized.Start(3000);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("changed size"), std::string::npos) << z.status().ToString();
}

class ReplicationDiskFullTest : public ReplicationTest {
 protected:
  void SetUp() override {
    fault_ = std::make_unique<FaultInjectionFs>(FileSystem::Posix());
    store_fs_ = fault_.get();
    ReplicationTest::SetUp();
  }
  std::unique_ptr<FaultInjectionFs> fault_;
};

TEST_F(ReplicationDiskFullTest, FullVaultDiskHoldsDataAndResumesWhenSpaceReturns) {
  fault_->SetWriteBudget(4u << 20);  // room for about a quarter of the data
  StartAgent(SenderOpts());
  std::thread space_returns([&] {
    for (int i = 0; i < 500; ++i) {
      auto stats = service_->Stats();
      if (stats.count("web-os") && stats["web-os"].condition.find("vault disk full") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto stats = service_->Stats();
    EXPECT_NE(stats["web-os"].condition.find("vault disk full"), std::string::npos);
    fault_->SetWriteBudget(-1);
  });
  auto r = capture_->RunOnce();
  space_returns.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(service_->Stats()["web-os"].condition.empty());
  ExpectReplicaEqualsImage();
}

}  // namespace
}  // namespace lifeline
