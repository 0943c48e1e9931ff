#include "wire/channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace lifeline::wire {

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

bool WaitFd(int fd, bool for_write, int64_t timeout_ms) {
  int64_t deadline = MonotonicMs() + timeout_ms;
  for (;;) {
    pollfd p{fd, short(for_write ? POLLOUT : POLLIN), 0};
    int64_t left = deadline - MonotonicMs();
    if (left < 0) left = 0;
    int r = ::poll(&p, 1, int(left));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

namespace {

void PrepareSocket(int fd) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

class PlainChannel final : public Channel {
 public:
  explicit PlainChannel(int fd) : fd_(fd) { PrepareSocket(fd_); }
  ~PlainChannel() override { ::close(fd_); }
  IoResult Read(MutableByteSpan buf) override {
    for (;;) {
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n > 0) return {IoState::kOk, size_t(n)};
      if (n == 0) return {IoState::kEof, 0};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoState::kWantRead, 0};
      error_ = std::strerror(errno);
      return {IoState::kError, 0};
    }
  }
  IoResult Write(ByteSpan buf) override {
    for (;;) {
      ssize_t n = ::send(fd_, buf.data(), buf.size(), MSG_NOSIGNAL);
      if (n >= 0) return {IoState::kOk, size_t(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoState::kWantWrite, 0};
      error_ = std::strerror(errno);
      return {IoState::kError, 0};
    }
  }
  void Shutdown() override { ::shutdown(fd_, SHUT_WR); }
  int fd() const override { return fd_; }
  std::string LastError() const override { return error_; }
  std::string PeerIdentity() const override { return ""; }

 private:
  int fd_;
  std::string error_;
};

class TlsChannel final : public Channel {
 public:
  TlsChannel(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~TlsChannel() override {
    SSL_free(ssl_);
    ::close(fd_);
  }
  IoResult Read(MutableByteSpan buf) override {
    size_t n = 0;
    int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
    if (r == 1) return {IoState::kOk, n};
    return Classify(r);
  }
  IoResult Write(ByteSpan buf) override {
    size_t n = 0;
    int r = SSL_write_ex(ssl_, buf.data(), buf.size(), &n);
    if (r == 1) return {IoState::kOk, n};
    return Classify(r);
  }
  void Shutdown() override {
    if (!failed_) SSL_shutdown(ssl_);
    ::shutdown(fd_, SHUT_WR);
  }
  int fd() const override { return fd_; }
  std::string LastError() const override { return error_; }
  std::string PeerIdentity() const override {
    X509* cert = SSL_get0_peer_certificate(ssl_);
    if (!cert) return "";
    char buf[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, size_t(n));
  }

 private:
  IoResult Classify(int r) {
    int err = SSL_get_error(ssl_, r);
    switch (err) {
      case SSL_ERROR_WANT_READ: return {IoState::kWantRead, 0};
      case SSL_ERROR_WANT_WRITE: return {IoState::kWantWrite, 0};
      case SSL_ERROR_ZERO_RETURN: return {IoState::kEof, 0};
      case SSL_ERROR_SYSCALL: {
        failed_ = true;
        std::string e = TakeSslErrors();
        if (errno == 0 && e.empty()) return {IoState::kEof, 0};  // peer closed without close_notify
        error_ = e.empty() ? std::string(std::strerror(errno)) : e;
        return {IoState::kError, 0};
      }
      default:
        failed_ = true;
        error_ = TakeSslErrors();
        if (error_.empty()) error_ = "TLS error " + std::to_string(err);
        return {IoState::kError, 0};
    }
  }
  int fd_;
  SSL* ssl_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace

std::unique_ptr<Channel> MakePlainChannel(int fd) { return std::make_unique<PlainChannel>(fd); }

Result<std::unique_ptr<Channel>> TlsHandshake(int fd, const TlsContext& ctx,
                                              const std::string& expected_host,
                                              int64_t timeout_ms) {
  PrepareSocket(fd);
  SSL* ssl = SSL_new(ctx.get());
  if (!ssl) {
    ::close(fd);
    return Status::IOError("SSL_new: " + TakeSslErrors());
  }
  auto fail = [&](Status s) -> Result<std::unique_ptr<Channel>> {
    SSL_free(ssl);
    ::close(fd);
    return s;
  };
  SSL_set_fd(ssl, fd);
  if (ctx.role() == TlsRole::kClient) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // An IP literal is checked against the certificate's IP SANs, a name against DNS SANs.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, expected_host.c_str()) != 1) {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (X509_VERIFY_PARAM_set1_host(param, expected_host.c_str(), 0) != 1)
        return fail(Status::InvalidArgument("bad server name '" + expected_host + "'"));
      SSL_set_tlsext_host_name(ssl, expected_host.c_str());
    }
    SSL_set_connect_state(ssl);
  } else {
    SSL_set_accept_state(ssl);
  }
  int64_t deadline = MonotonicMs() + timeout_ms;
  ERR_clear_error();
  for (;;) {
    int r = SSL_do_handshake(ssl);
    if (r == 1) break;
    int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      int64_t left = deadline - MonotonicMs();
      if (left <= 0 || !WaitFd(fd, err == SSL_ERROR_WANT_WRITE, left))
        return fail(Status::IOError("TLS handshake timed out after " +
                                    std::to_string(timeout_ms) + " ms"));
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    std::string reason = TakeSslErrors();
    if (verify != X509_V_OK) {
      std::string who = ctx.role() == TlsRole::kServer ? "client" : "server";
      return fail(Status::Unauthenticated(who + " certificate rejected: " +
                                          X509_verify_cert_error_string(verify)));
    }
    if (err == SSL_ERROR_SSL)
      return fail(Status::Unauthenticated("TLS handshake failed: " + reason));
    return fail(Status::IOError("connection closed during the TLS handshake" +
                                (reason.empty() ? std::string() : ": " + reason)));
  }
  return std::unique_ptr<Channel>(std::make_unique<TlsChannel>(fd, ssl));
}

}  // namespace lifeline::wire
