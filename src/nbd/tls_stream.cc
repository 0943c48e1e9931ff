// OpenSSL-backed TLS stream; see tls_stream.h. A TlsStream is used by one thread at a
// time (Shutdown excepted, which only touches the socket).
#include "nbd/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <vector>

namespace lifeline::nbd {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

class TlsStream final : public Stream {
 public:
  TlsStream(SocketStream* socket, SSL* ssl) : socket_(socket), ssl_(ssl) {}
  ~TlsStream() override {
    SSL_shutdown(ssl_);  // best effort close_notify
    SSL_free(ssl_);
  }

  Result<size_t> Read(MutableByteSpan buf) override {
    int n = SSL_read(ssl_, buf.data(), int(std::min<size_t>(buf.size(), 1 << 30)));
    if (n > 0) return size_t(n);
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) return size_t(0);
    return Status::IOError("TLS read: " + OpenSslError());
  }

  Status Write(const iovec* iov, int count) override {
    for (int i = 0; i < count; ++i) {
      const char* p = static_cast<const char*>(iov[i].iov_base);
      size_t left = iov[i].iov_len;
      while (left > 0) {
        int n = SSL_write(ssl_, p, int(std::min<size_t>(left, 1 << 30)));
        if (n <= 0) return Status::IOError("TLS write: " + OpenSslError());
        p += n;
        left -= size_t(n);
      }
    }
    return Status::Ok();
  }

  void Shutdown() override { socket_->Shutdown(); }
  bool concurrent() const override { return false; }

 private:
  SocketStream* socket_;
  SSL* ssl_;
};

}  // namespace

Result<std::shared_ptr<TlsServerContext>> TlsServerContext::Create(const std::string& cert_path,
                                                                   const std::string& key_path) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Status::IOError("SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument("cannot load TLS certificate " + cert_path + ": " +
                                   OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument("cannot load TLS key " + key_path + ": " + OpenSslError());
  }
  return std::shared_ptr<TlsServerContext>(new TlsServerContext(ctx));
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

Result<std::unique_ptr<Stream>> TlsServerContext::Accept(SocketStream* socket) {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  if (!ssl) return Status::IOError("SSL_new: " + OpenSslError());
  SSL_set_fd(ssl, socket->fd());
  if (SSL_accept(ssl) != 1) {
    std::string why = OpenSslError();
    SSL_free(ssl);
    return Status::Unauthenticated("TLS handshake: " + why);
  }
  return std::unique_ptr<Stream>(new TlsStream(socket, ssl));
}

}  // namespace lifeline::nbd
