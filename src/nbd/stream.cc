// SocketStream implementation; see stream.h.
#include "nbd/stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace lifeline::nbd {

SocketStream::~SocketStream() { ::close(fd_); }

Result<size_t> SocketStream::Read(MutableByteSpan buf) {
  for (;;) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n >= 0) return size_t(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == ENOTCONN) return size_t(0);
    return Status::FromErrno(errno, "socket read");
  }
}

Status SocketStream::Write(const iovec* iov, int count) {
  std::vector<iovec> v(iov, iov + count);
  size_t i = 0;
  while (i < v.size()) {
    msghdr msg{};
    msg.msg_iov = v.data() + i;
    msg.msg_iovlen = v.size() - i;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "socket write");
    }
    size_t left = size_t(n);
    while (i < v.size() && left >= v[i].iov_len) left -= v[i++].iov_len;
    if (i < v.size()) {
      v[i].iov_base = static_cast<char*>(v[i].iov_base) + left;
      v[i].iov_len -= left;
    }
  }
  return Status::Ok();
}

void SocketStream::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace lifeline::nbd
