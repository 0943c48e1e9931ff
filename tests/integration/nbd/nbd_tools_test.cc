// `lifeline nbd serve` as a real process driven by real clients from Debian packages:
// qemu-img, qemu-io, nbdcopy, nbdinfo and fio's nbd engine, over TCP and Unix sockets.
// Every check reads the bytes back (through NBD and from the image file itself).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "nbd/protocol.h"
#include "nbd/wire.h"
#include "nbd_server_process.h"

namespace lifeline::nbd {
namespace {

using namespace lifeline::nbd::testing;

class NbdToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"qemu-img", "qemu-io", "nbdcopy", "nbdinfo", "fio", "cmp"}) {
      RequireTool(tool);
    }
    char tmpl[] = "/tmp/nbd_it_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/disk.img";
    ASSERT_EQ(Shell("truncate -s 64M " + image_).exit_code, 0);
  }
  void TearDown() override {
    server_.Stop();
    Shell("rm -rf " + dir_);
  }
  void Serve(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {image_};
    if (std::find(extra.begin(), extra.end(), "--unix") == extra.end()) {
      args.insert(args.end(), {"--port", "0"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(server_.Start(args)) << "lifeline nbd serve did not print its URL";
  }
  // A source image: 16 MiB random data, a 16 MiB hole, 1 MiB of 0x5a, rest hole.
  std::string MakeSource() {
    std::string src = dir_ + "/src.img";
    EXPECT_EQ(Shell("truncate -s 64M " + src + " && head -c 16M /dev/urandom | dd of=" + src +
                    " conv=notrunc status=none && head -c 1M /dev/zero | tr '\\0' 'Z' | dd of=" +
                    src + " bs=1M seek=32 conv=notrunc status=none")
                  .exit_code,
              0);
    return src;
  }
  CommandResult Ok(const std::string& cmd) {
    CommandResult r = Shell(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
    return r;
  }

  std::string dir_, image_;
  ServerProcess server_;
};

TEST_F(NbdToolsTest, PrintsUrlWithBoundPort) {
  Serve({"--name", "disk0"});
  EXPECT_EQ(server_.url().rfind("nbd://127.0.0.1:", 0), 0u) << server_.url();
  EXPECT_GT(server_.port(), 0);
  EXPECT_NE(server_.url().find("/disk0"), std::string::npos);
  EXPECT_EQ(server_.Stop(), 0);  // SIGTERM is a clean stop
}

TEST_F(NbdToolsTest, QemuImgConvertToAndFromNbd) {
  std::string src = MakeSource();
  Serve();
  Ok("qemu-img convert -n -f raw -O raw " + src + " " + server_.url());
  Ok("cmp " + src + " " + image_);
  std::string back = dir_ + "/back.img";
  Ok("qemu-img convert -f raw -O raw " + server_.url() + " " + back);
  Ok("cmp " + src + " " + back);
  Ok("qemu-img compare -f raw -F raw " + src + " " + server_.url());
  CommandResult map = Ok("qemu-img map --output=json -f raw " + server_.url());
  EXPECT_NE(map.output.find("\"data\": false"), std::string::npos) << map.output;
}

TEST_F(NbdToolsTest, QemuIoPatternsZeroesDiscardFlush) {
  Serve();
  std::string u = server_.url();
  CommandResult w = Ok("qemu-io -f raw -c 'write -P 0xa1 0 64k' -c 'write -P 0xb2 1M 1M' "
                       "-c 'write -P 0xc3 3000 5000' -c 'write -z 1088k 64k' "
                       "-c 'write -P 0xd4 10M 4M' -c 'discard 11M 1M' -c flush " + u);
  CommandResult r = Ok("qemu-io -f raw -c 'read -P 0xa1 0 3000' -c 'read -P 0xc3 3000 5000' "
                       "-c 'read -P 0xa1 8000 57536' -c 'read -P 0xb2 1M 64k' "
                       "-c 'read -P 0 1088k 64k' -c 'read -P 0xb2 1152k 896k' "
                       "-c 'read -P 0xd4 10M 1M' -c 'read -P 0xd4 12M 2M' " + u);
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
  // The image file holds the same bytes.
  Ok("test \"$(head -c 3000 " + image_ + " | tr -d '\\241' | wc -c)\" = 0");
  Ok("test \"$(dd if=" + image_ + " bs=1M skip=10 count=1 status=none | tr -d '\\324' | wc -c)\" = 0");
  // A wrong pattern is detected (the check itself can fail).
  CommandResult bad = Shell("qemu-io -f raw -c 'read -P 0xee 0 4k' " + u);
  EXPECT_NE(bad.output.find("Pattern verification failed"), std::string::npos) << bad.output;
}

TEST_F(NbdToolsTest, NbdcopyBothWaysWithSeveralConnections) {
  std::string src = MakeSource();
  Serve();
  Ok("nbdcopy --connections=4 --requests=16 " + src + " " + server_.url());
  Ok("cmp " + src + " " + image_);
  std::string back = dir_ + "/back.img";
  Ok("nbdcopy --connections=4 " + server_.url() + " " + back);
  Ok("cmp " + src + " " + back);
}

TEST_F(NbdToolsTest, NbdinfoListSizeAndMap) {
  Serve({"--name", "disk0"});
  std::string base = server_.url().substr(0, server_.url().rfind('/') + 1);
  CommandResult list = Ok("nbdinfo --list " + base);
  EXPECT_NE(list.output.find("disk0"), std::string::npos) << list.output;
  CommandResult size = Ok("nbdinfo --size " + server_.url());
  EXPECT_EQ(std::stoull(size.output), 64ull << 20);
  CommandResult info = Ok("nbdinfo --json " + server_.url());
  EXPECT_NE(info.output.find("\"block_size_maximum\": 33554432"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("base:allocation"), std::string::npos);
  Ok("nbdinfo --can multi-conn " + server_.url());
  Ok("nbdinfo --can fua " + server_.url());

  Ok("qemu-io -f raw -c 'write -P 1 4M 1M' " + server_.url());
  CommandResult map = Ok("nbdinfo --map " + server_.url());
  // 0..4M hole, 4M..5M data, 5M..64M hole.
  EXPECT_NE(map.output.find("0     4194304    3  hole,zero"), std::string::npos) << map.output;
  EXPECT_NE(map.output.find("4194304     1048576    0  data"), std::string::npos) << map.output;
  CommandResult wrong = Shell("nbdinfo " + base + "nosuchexport");
  EXPECT_NE(wrong.exit_code, 0);
}

TEST_F(NbdToolsTest, FioNbdEngineWithVerify) {
  Serve();
  for (const char* job : {"--rw=randwrite --bs=4k --iodepth=32",
                          "--rw=randrw --bsrange=512-256k --iodepth=16",
                          "--rw=write --bs=1M --iodepth=8"}) {
    CommandResult r = Shell(std::string("fio --name=v --ioengine=nbd --uri=") + server_.url() +
                            " " + job + " --size=32M --verify=crc32c --do_verify=1 " +
                            "--verify_fatal=1 --verify_backlog=1024 --verify_state_save=0 --output-format=terse");
    EXPECT_EQ(r.exit_code, 0) << job << "\n" << r.output;
    EXPECT_EQ(r.output.find("verify"), std::string::npos) << r.output;
  }
}

TEST_F(NbdToolsTest, UnixSocket) {
  std::string sock = dir_ + "/nbd.sock";
  Serve({"--unix", sock, "--name", "u"});
  EXPECT_EQ(server_.url(), "nbd+unix:///u?socket=" + sock);
  Ok("qemu-io -f raw -c 'write -P 0x42 0 128k' '" + server_.url() + "'");
  CommandResult r = Ok("qemu-io -f raw -c 'read -P 0x42 0 128k' '" + server_.url() + "'");
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos);
  Ok("nbdinfo '" + server_.url() + "'");
}

TEST_F(NbdToolsTest, UnixSocketPathNeverReplacesAFile) {
  std::string victim = dir_ + "/precious.img";
  Ok("echo data > " + victim);
  CommandResult r = Shell(std::string(LIFELINE_BINARY) + " nbd serve " + image_ + " --unix " + victim);
  EXPECT_EQ(r.exit_code, 2) << r.output;  // InvalidArgument: a usage error
  EXPECT_NE(r.output.find("not a socket"), std::string::npos) << r.output;
  Ok("test \"$(cat " + victim + ")\" = data");
}

TEST_F(NbdToolsTest, ReadOnlyExportRefusesWrites) {
  Ok("printf 'hello' | dd of=" + image_ + " conv=notrunc status=none");
  Serve({"--read-only"});
  Ok("nbdinfo --is read-only " + server_.url());
  CommandResult w = Shell("qemu-io -f raw -c 'write -P 1 0 4k' " + server_.url());
  EXPECT_TRUE(w.exit_code != 0 || w.output.find("failed") != std::string::npos) << w.output;
  Ok("test \"$(head -c 5 " + image_ + ")\" = hello");
}

TEST_F(NbdToolsTest, ConcurrentClientsOnOneExport) {
  Serve();
  std::string u = server_.url();
  std::vector<std::thread> clients;
  std::vector<CommandResult> results(4);
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      std::string off = std::to_string(i * 8) + "M";
      char pat[8];
      snprintf(pat, sizeof pat, "0x%02x", 0x10 + i);
      results[i] = Shell("qemu-io -f raw -c 'write -P " + std::string(pat) + " " + off +
                         " 8M' -c 'read -P " + pat + " " + off + " 8M' " + u);
    });
  }
  for (auto& t : clients) t.join();
  for (auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
  }
}

// Raw sockets: garbage and protocol violations end that connection only.
int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
// Reads until the peer closes; returns the bytes (fails the test on timeout).
std::string ReadUntilClose(int fd) {
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return all;
    if (n < 0) {
      ADD_FAILURE() << "server did not close the connection";
      return all;
    }
    all.append(buf, size_t(n));
  }
}

TEST_F(NbdToolsTest, MalformedInputClosesOnlyThatConnection) {
  Serve();
  // Garbage instead of client flags.
  int fd = ConnectTcp(server_.port());
  ASSERT_GE(fd, 0);
  std::string junk(64, '\xff');
  ASSERT_EQ(::send(fd, junk.data(), junk.size(), 0), ssize_t(junk.size()));
  EXPECT_EQ(ReadUntilClose(fd).size(), 18u);  // the greeting, then close
  ::close(fd);

  // Proper handshake, then a request with a bad magic.
  fd = ConnectTcp(server_.port());
  ASSERT_GE(fd, 0);
  std::string hello;
  AppendBE32(&hello, kClientFlagFixedNewstyle | kClientFlagNoZeroes);
  AppendBE64(&hello, kOptMagic);
  AppendBE32(&hello, kOptExportName);
  AppendBE32(&hello, 0);
  AppendBE32(&hello, 0x12345678);  // not the request magic
  hello += std::string(24, '\0');
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0), ssize_t(hello.size()));
  EXPECT_EQ(ReadUntilClose(fd).size(), 18u + 10u);  // greeting + export info, no reply
  ::close(fd);

  // A client that vanishes mid-write.
  fd = ConnectTcp(server_.port());
  std::string partial = hello.substr(0, hello.size() - 28);
  AppendBE32(&partial, kRequestMagic);
  AppendBE16(&partial, 0);
  AppendBE16(&partial, kCmdWrite);
  AppendBE64(&partial, 1);
  AppendBE64(&partial, 0);
  AppendBE32(&partial, 1 << 20);
  partial += std::string(1000, 'x');
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), ssize_t(partial.size()));
  ::close(fd);

  EXPECT_TRUE(server_.running());
  Ok("nbdinfo " + server_.url());
  Ok("test \"$(head -c 1000 " + image_ + " | tr -d '\\0' | wc -c)\" = 0");  // no partial write
}

TEST_F(NbdToolsTest, TlsWithX509Certificate) {
  RequireTool("openssl");
  std::string pki = dir_ + "/pki";
  Ok("mkdir -p " + pki + " && cd " + pki +
     " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
     "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout server-key.pem "
     "-out server-cert.pem 2>/dev/null && cp server-cert.pem ca-cert.pem");
  Serve({"--tls-cert", pki + "/server-cert.pem", "--tls-key", pki + "/server-key.pem",
         "--tls-required"});
  std::string plain_url = "nbd://127.0.0.1:" + std::to_string(server_.port()) + "/";
  EXPECT_EQ(server_.url().rfind("nbds://", 0), 0u);
  CommandResult plain = Shell("nbdinfo " + plain_url);
  EXPECT_NE(plain.exit_code, 0) << plain.output;
  std::string tls_url = server_.url() + "?tls-certificates=" + pki;
  Ok("nbdinfo '" + tls_url + "'");
  std::string creds = "--object tls-creds-x509,id=tls0,endpoint=client,dir=" + pki;
  std::string opts = "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=" +
                     std::to_string(server_.port()) + ",tls-creds=tls0";
  Ok("qemu-io " + creds + " --image-opts -c 'write -P 0x77 0 256k' " + opts);
  CommandResult r = Ok("qemu-io " + creds + " --image-opts -c 'read -P 0x77 0 256k' " + opts);
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace lifeline::nbd
