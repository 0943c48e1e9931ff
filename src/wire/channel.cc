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

// TLS over a BIO pair: OpenSSL encrypts into and decrypts from an in-memory pair, and
// this class moves bytes between the pair and the socket in large chunks. A socket BIO
// would cost one system call per 16 KiB record (about 64 per MiB each way).
class TlsChannel final : public Channel {
 public:
  static constexpr size_t kPairBytes = 512 * 1024;
  static constexpr size_t kFlushBytes = 256 * 1024;

  TlsChannel(int fd, SSL* ssl, BIO* network) : fd_(fd), ssl_(ssl), network_(network) {}
  ~TlsChannel() override {
    SSL_free(ssl_);  // frees the internal half of the pair
    BIO_free(network_);
    ::close(fd_);
  }

  IoResult Read(MutableByteSpan buf) override {
    for (;;) {
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
      if (r == 1) {
        if (HasPendingOutput()) (void)Flush();  // e.g. a KeyUpdate answer
        return {IoState::kOk, n};
      }
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_READ) {
        IoResult f = FillFromSocket();
        if (f.state == IoState::kOk && f.bytes > 0) continue;
        return f.state == IoState::kOk ? IoResult{IoState::kWantRead, 0} : f;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        IoResult f = Flush();
        if (f.state == IoState::kOk) continue;
        return f;
      }
      return Classify(err);
    }
  }

  IoResult Write(ByteSpan buf) override {
    for (;;) {
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_write_ex(ssl_, buf.data(), std::min(buf.size(), kPairBytes), &n);
      if (r == 1) {
        // SSL_write returns after each 16 KiB record: send in large batches only. The
        // caller flushes the rest when it runs out of frames (Flush()).
        if (BIO_ctrl_pending(network_) >= kFlushBytes) {
          IoResult f = Flush();
          if (f.state == IoState::kError) return f;
        }
        return {IoState::kOk, n};
      }
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_WRITE) {  // the pair is full: drain it to the socket
        size_t before = BIO_ctrl_pending(network_);
        IoResult f = Flush();
        if (f.state == IoState::kError) return f;
        if (BIO_ctrl_pending(network_) < before) continue;
        return {IoState::kWantWrite, 0};
      }
      if (err == SSL_ERROR_WANT_READ) {
        IoResult f = FillFromSocket();
        if (f.state == IoState::kOk) continue;
        return f.state == IoState::kWantRead ? IoResult{IoState::kWantRead, 0} : f;
      }
      return Classify(err);
    }
  }

  // Sends what the pair holds; kWantWrite when the socket is full.
  IoResult Flush() override {
    size_t total = 0;
    for (;;) {
      char* p = nullptr;
      int avail = BIO_nread0(network_, &p);
      if (avail <= 0) return {IoState::kOk, total};
      ssize_t n = ::send(fd_, p, size_t(avail), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoState::kWantWrite, total};
        failed_ = true;
        error_ = std::strerror(errno);
        return {IoState::kError, 0};
      }
      BIO_nread(network_, &p, int(n));
      total += size_t(n);
    }
  }
  bool HasPendingOutput() const override { return BIO_ctrl_pending(network_) > 0; }

  void Shutdown() override {
    if (!failed_) {
      SSL_shutdown(ssl_);
      (void)Flush();
    }
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

  // Moves bytes from the socket into the pair: kOk (some arrived), kWantRead, kEof, kError.
  IoResult FillFromSocket() {
    char* p = nullptr;
    int room = BIO_nwrite0(network_, &p);
    if (room <= 0) return {IoState::kOk, 0};  // the pair is full: let OpenSSL consume it
    for (;;) {
      ssize_t n = ::recv(fd_, p, size_t(room), 0);
      if (n > 0) {
        BIO_nwrite(network_, &p, int(n));
        return {IoState::kOk, size_t(n)};
      }
      if (n == 0) return {IoState::kEof, 0};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoState::kWantRead, 0};
      failed_ = true;
      error_ = std::strerror(errno);
      return {IoState::kError, 0};
    }
  }

  IoResult Classify(int err) {
    failed_ = true;
    if (err == SSL_ERROR_ZERO_RETURN) return {IoState::kEof, 0};
    error_ = TakeSslErrors();
    if (error_.empty()) error_ = "TLS error " + std::to_string(err);
    return {IoState::kError, 0};
  }

 private:
  int fd_;
  SSL* ssl_;
  BIO* network_;
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
  BIO* internal = nullptr;
  BIO* network = nullptr;
  if (!ssl ||
      BIO_new_bio_pair(&internal, TlsChannel::kPairBytes, &network, TlsChannel::kPairBytes) != 1) {
    SSL_free(ssl);
    ::close(fd);
    return Status::IOError("TLS setup: " + TakeSslErrors());
  }
  SSL_set_bio(ssl, internal, internal);
  // The channel owns ssl, the pair and fd from here on, also on failure.
  auto channel = std::make_unique<TlsChannel>(fd, ssl, network);
  if (ctx.role() == TlsRole::kClient) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // An IP literal is checked against the certificate's IP SANs, a name against DNS SANs.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, expected_host.c_str()) != 1) {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (X509_VERIFY_PARAM_set1_host(param, expected_host.c_str(), 0) != 1)
        return Status::InvalidArgument("bad server name '" + expected_host + "'");
      SSL_set_tlsext_host_name(ssl, expected_host.c_str());
    }
    SSL_set_connect_state(ssl);
  } else {
    SSL_set_accept_state(ssl);
  }
  int64_t deadline = MonotonicMs() + timeout_ms;
  auto timed_out = [&] {
    return Status::IOError("TLS handshake timed out after " + std::to_string(timeout_ms) + " ms");
  };
  // Sends everything the pair holds, waiting for the socket within the deadline.
  auto flush_all = [&]() -> bool {
    for (;;) {
      IoResult f = channel->Flush();
      if (f.state == IoState::kError) return false;
      if (!channel->HasPendingOutput()) return true;
      int64_t left = deadline - MonotonicMs();
      if (left <= 0 || !WaitFd(fd, true, left)) return false;
    }
  };
  ERR_clear_error();
  for (;;) {
    int r = SSL_do_handshake(ssl);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
    bool flushed = flush_all();  // our flight, or the alert that tells the peer why
    if (r == 1) {
      if (!flushed) return timed_out();
      break;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!flushed) return timed_out();
      if (err == SSL_ERROR_WANT_WRITE) continue;
      int64_t left = deadline - MonotonicMs();
      if (left <= 0 || !WaitFd(fd, false, left)) return timed_out();
      IoResult in = channel->FillFromSocket();
      if (in.state == IoState::kEof)
        return Status::IOError("connection closed during the TLS handshake");
      if (in.state == IoState::kError)
        return Status::IOError("TLS handshake: " + channel->LastError());
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    std::string reason = TakeSslErrors();
    if (verify != X509_V_OK) {
      std::string who = ctx.role() == TlsRole::kServer ? "client" : "server";
      return Status::Unauthenticated(
          who + " certificate rejected: " + X509_verify_cert_error_string(verify));
    }
    if (err == SSL_ERROR_SSL) return Status::Unauthenticated("TLS handshake failed: " + reason);
    return Status::IOError("connection closed during the TLS handshake" +
                           (reason.empty() ? std::string() : ": " + reason));
  }
  return std::unique_ptr<Channel>(std::move(channel));
}

}  // namespace lifeline::wire
