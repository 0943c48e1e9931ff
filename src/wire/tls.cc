#include "wire/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/fs.h"

namespace lifeline::wire {

std::string TakeSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<TlsConfig> LoadTlsConfig(const std::string& ca_cert_path, const std::string& cert_path,
                                const std::string& key_path) {
  TlsConfig c;
  FileSystem* fs = FileSystem::Posix();
  LL_ASSIGN_OR_RETURN(c.ca_cert_pem, ReadWholeFile(fs, ca_cert_path, 1 << 20));
  LL_ASSIGN_OR_RETURN(c.cert_pem, ReadWholeFile(fs, cert_path, 1 << 20));
  LL_ASSIGN_OR_RETURN(c.key_pem, ReadWholeFile(fs, key_path, 1 << 20));
  return c;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

namespace {
Status LoadPem(SSL_CTX* ctx, const TlsConfig& config) {
  BIO* bio = BIO_new_mem_buf(config.cert_pem.data(), int(config.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return Status::InvalidArgument("TLS certificate is not valid PEM: " + TakeSslErrors());
  int ok = SSL_CTX_use_certificate(ctx, cert);
  X509_free(cert);
  if (!ok) return Status::InvalidArgument("TLS certificate rejected: " + TakeSslErrors());

  bio = BIO_new_mem_buf(config.key_pem.data(), int(config.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return Status::InvalidArgument("TLS private key is not valid PEM: " + TakeSslErrors());
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (!ok || !SSL_CTX_check_private_key(ctx))
    return Status::InvalidArgument("TLS private key does not match the certificate: " +
                                   TakeSslErrors());

  bio = BIO_new_mem_buf(config.ca_cert_pem.data(), int(config.ca_cert_pem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!ca) return Status::InvalidArgument("CA certificate is not valid PEM: " + TakeSslErrors());
  ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  if (!ok) return Status::InvalidArgument("CA certificate rejected: " + TakeSslErrors());
  return Status::Ok();
}
}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsConfig& config, TlsRole role) {
  if (config.insecure) return std::shared_ptr<TlsContext>();
  if (config.ca_cert_pem.empty() || config.cert_pem.empty() || config.key_pem.empty())
    return Status::InvalidArgument(
        "TLS needs a CA certificate, a certificate and a key (or an explicit --insecure)");
  SSL_CTX* raw = SSL_CTX_new(role == TlsRole::kServer ? TLS_server_method() : TLS_client_method());
  if (!raw) return Status::IOError("SSL_CTX_new: " + TakeSslErrors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, role));
  // TLS 1.3 only: no downgrade, forward secrecy and AEAD ciphers by construction.
  SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION);
  // AES-128-GCM first: the fastest with AES-NI, the bulk of the cost at 1 GB/s.
  SSL_CTX_set_ciphersuites(raw,
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(raw, 1);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  LL_RETURN_IF_ERROR(LoadPem(raw, config));
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(raw);
  if (role == TlsRole::kServer) {
    // Every agent must present a certificate issued by this vault's CA for client use.
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
    SSL_CTX_set_num_tickets(raw, 0);  // no resumption: each stream authenticates in full
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  }
  return ctx;
}

}  // namespace lifeline::wire
