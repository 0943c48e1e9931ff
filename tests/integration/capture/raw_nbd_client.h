// A minimal blocking NBD client for tests: fixed newstyle handshake with EXPORT_NAME, then
// WRITE, FLUSH, TRIM and WRITE_ZEROES, one request at a time (so a write's reply is its
// completion). A refused request is IOError "NBD error N" (N: the NBD error value).
// Thread-compatible: one thread per client.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline::capture_testing {

class RawNbdClient {
 public:
  ~RawNbdClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return Status::IOError("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t hello[18];
    LL_RETURN_IF_ERROR(ReadN(hello, sizeof hello));
    uint8_t flags[4];
    PutBE32(flags, 3);  // FIXED_NEWSTYLE | NO_ZEROES
    LL_RETURN_IF_ERROR(WriteN(flags, 4));
    uint8_t opt[16];
    PutBE64(opt, 0x49484156454F5054ull);
    PutBE32(opt + 8, 1);  // EXPORT_NAME, default export
    PutBE32(opt + 12, 0);
    LL_RETURN_IF_ERROR(WriteN(opt, sizeof opt));
    uint8_t info[10];
    return ReadN(info, sizeof info);
  }
  Status Write(uint64_t offset, const std::string& data) { return Request(1, offset, data); }
  Status Flush() { return Request(3, 0, ""); }
  Status Trim(uint64_t offset, uint32_t length) { return Request(4, offset, "", length); }
  Status WriteZeroes(uint64_t offset, uint32_t length) { return Request(6, offset, "", length); }

 private:
  // `length`: for requests without a payload (trim, zeroes).
  Status Request(uint16_t type, uint64_t offset, const std::string& data, uint32_t length = 0) {
    uint8_t h[28];
    PutBE32(h, 0x25609513);
    PutBE16(h + 4, 0);
    PutBE16(h + 6, type);
    PutBE64(h + 8, ++handle_);
    PutBE64(h + 16, offset);
    PutBE32(h + 24, data.empty() ? length : uint32_t(data.size()));
    LL_RETURN_IF_ERROR(WriteN(h, sizeof h));
    if (!data.empty()) LL_RETURN_IF_ERROR(WriteN(data.data(), data.size()));
    uint8_t r[16];
    LL_RETURN_IF_ERROR(ReadN(r, sizeof r));
    if (GetBE32(r) != 0x67446698 || GetBE64(r + 8) != handle_)
      return Status::Corruption("bad NBD reply");
    if (GetBE32(r + 4) != 0) return Status::IOError("NBD error " + std::to_string(GetBE32(r + 4)));
    return Status::Ok();
  }
  Status ReadN(void* p, size_t n) {
    auto* c = static_cast<uint8_t*>(p);
    while (n) {
      ssize_t k = ::read(fd_, c, n);
      if (k <= 0) return Status::IOError("NBD connection closed");
      c += k;
      n -= size_t(k);
    }
    return Status::Ok();
  }
  Status WriteN(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    while (n) {
      ssize_t k = ::write(fd_, c, n);
      if (k <= 0) return Status::IOError("NBD write failed");
      c += k;
      n -= size_t(k);
    }
    return Status::Ok();
  }
  int fd_ = -1;
  uint64_t handle_ = 0;
};

}  // namespace lifeline::capture_testing
