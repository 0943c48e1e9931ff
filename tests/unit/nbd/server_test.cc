// nbd::Server in-process over a Unix socket with MemoryBackend exports: pipelined
// requests answered once each (in any order), several exports, the connection limit, and
// Stop() with clients still attached.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "nbd/memory_backend.h"
#include "nbd/server.h"
#include "nbd_test_util.h"

namespace lifeline::nbd {
namespace {

using namespace lifeline::nbd::testing;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nbd_server_testXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s";
    disk_a_ = std::make_shared<MemoryBackend>(1 << 20);
    disk_b_ = std::make_shared<MemoryBackend>(2 << 20);
    ASSERT_TRUE(registry_.Add({"a", "", disk_a_, false}).ok());
    ASSERT_TRUE(registry_.Add({"b", "", disk_b_, false}).ok());
  }
  void TearDown() override {
    server_.reset();
    ::rmdir(dir_.c_str());
  }
  void StartServer(ServerOptions options = {}) {
    server_ = std::make_unique<Server>(&registry_, options);
    ASSERT_TRUE(server_->ListenUnix(path_).ok());
    ASSERT_TRUE(server_->Start().ok());
  }
  int Connect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  static bool SendAll(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
  }
  static std::string RecvExactly(int fd, size_t n) {
    std::string s(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd, s.data() + got, n - got, 0);
      if (r <= 0) return s.substr(0, got);
      got += size_t(r);
    }
    return s;
  }
  // Greeting + GO on `name` (simple replies); returns false if refused.
  bool Attach(int fd, const std::string& name) {
    if (RecvExactly(fd, 18).size() != 18) return false;
    if (!SendAll(fd, ClientFlags() + Option(kOptGo, GoData(name)))) return false;
    for (;;) {
      std::string hdr = RecvExactly(fd, 20);
      if (hdr.size() != 20) return false;
      BeReader r(hdr);
      r.U64();
      r.U32();
      uint32_t type = r.U32();
      uint32_t len = r.U32();
      RecvExactly(fd, len);
      if (type == kRepAck) return true;
      if (type & kRepErrBit) return false;
    }
  }

  std::string dir_, path_;
  ExportRegistry registry_;
  std::shared_ptr<MemoryBackend> disk_a_, disk_b_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, PipelinedRequestsAnsweredOnceEach) {
  StartServer();
  int fd = Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Attach(fd, "b"));
  constexpr int kN = 64;
  std::string batch;
  for (int i = 0; i < kN; ++i) {
    batch += RequestBytes(kCmdWrite, 1000 + i, uint64_t(i) * 8192, 8192) +
             std::string(8192, char('A' + i % 26));
  }
  for (int i = 0; i < kN; ++i) batch += RequestBytes(kCmdRead, 2000 + i, uint64_t(i) * 8192, 8192);
  batch += RequestBytes(kCmdFlush, 3000, 0, 0);
  ASSERT_TRUE(SendAll(fd, batch));

  std::map<uint64_t, int> seen;
  int reads_ok = 0;
  for (int k = 0; k < 2 * kN + 1; ++k) {
    std::string hdr = RecvExactly(fd, 16);
    ASSERT_EQ(hdr.size(), 16u);
    BeReader r(hdr);
    ASSERT_EQ(r.U32(), kSimpleReplyMagic);
    ASSERT_EQ(r.U32(), 0u);
    uint64_t handle = r.U64();
    seen[handle]++;
    if (handle >= 2000 && handle < 3000) {
      // Reads were sent after every write's payload but may run alongside the writes:
      // the data is either the new pattern or still zero, never anything else.
      std::string data = RecvExactly(fd, 8192);
      char want = char('A' + (handle - 2000) % 26);
      if (data == std::string(8192, want)) reads_ok++;
      else EXPECT_EQ(data, std::string(8192, '\0')) << handle;
    }
  }
  EXPECT_EQ(seen.size(), size_t(2 * kN + 1));
  for (auto& [h, count] : seen) EXPECT_EQ(count, 1) << h;
  auto snap = disk_b_->Snapshot();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(snap[size_t(i) * 8192 + 5], 'A' + i % 26);
  EXPECT_GT(reads_ok, 0);
  EXPECT_EQ(disk_a_->Snapshot()[0], 0);  // the other export is untouched
  ::close(fd);
}

TEST_F(ServerTest, UnknownExportIsRefusedAndConnectionLimitHolds) {
  ServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  int fd = Connect();
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(Attach(fd, "zzz"));  // ERR_UNKNOWN
  ASSERT_TRUE(SendAll(fd, Option(kOptGo, GoData("a"))));
  // The same connection can still pick a valid export.
  int acks = 0;
  for (int i = 0; i < 4 && acks == 0; ++i) {
    std::string hdr = RecvExactly(fd, 20);
    ASSERT_EQ(hdr.size(), 20u);
    BeReader r(hdr);
    r.U64();
    r.U32();
    uint32_t type = r.U32();
    RecvExactly(fd, r.U32());
    if (type == kRepAck) acks++;
  }
  EXPECT_EQ(acks, 1);
  int second = Connect();
  ASSERT_GE(second, 0);
  EXPECT_EQ(RecvExactly(second, 18).size(), 0u);  // closed at once: over the limit
  ::close(second);
  ::close(fd);
}

TEST_F(ServerTest, StopDisconnectsAttachedClients) {
  StartServer();
  int fd = Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Attach(fd, "a"));
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  char c;
  EXPECT_EQ(::recv(fd, &c, 1, 0), 0);  // end of stream
  ::close(fd);
}

}  // namespace
}  // namespace lifeline::nbd
