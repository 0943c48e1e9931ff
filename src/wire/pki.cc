#include "wire/pki.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/fs.h"

namespace lifeline::wire {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// The OpenSSL error queue as text, cleared.
std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status SslFail(std::string_view what) {
  return Status::IOError(std::string(what) + ": " + SslErrors());
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return SslFail("generating an EC P-256 key");
  return key;
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    return SslFail("writing a private key");
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, size_t(n));
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return SslFail("writing a certificate");
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, size_t(n));
}

Result<PkeyPtr> KeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::InvalidArgument("not a PEM private key: " + SslErrors());
  return key;
}

Result<X509Ptr> CertFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::InvalidArgument("not a PEM certificate: " + SslErrors());
  return cert;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return SslFail("building certificate extension " + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) return SslFail("adding certificate extension");
  return Status::Ok();
}

// A certificate skeleton: version 3, random 128-bit serial, validity, subject CN, key.
Result<X509Ptr> NewCert(std::string_view common_name, EVP_PKEY* public_key, Validity v) {
  X509Ptr cert(X509_new());
  if (!cert) return SslFail("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);
  uint8_t serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return SslFail("random serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), long(v.not_before_offset_s));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), long(v.not_before_offset_s + v.lifetime_s));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("lifeline"), -1, -1, 0);
  std::string cn(common_name);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0))
    return SslFail("setting the common name");
  if (!X509_set_pubkey(cert.get(), public_key)) return SslFail("setting the public key");
  return cert;
}

bool LooksLikeIp(const std::string& s) {
  if (s.find(':') != std::string::npos) return true;  // IPv6
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

Result<CertifiedKey> CreateCa(std::string_view common_name, Validity validity) {
  LL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  LL_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(common_name, key.get(), validity));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  LL_RETURN_IF_ERROR(
      AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return SslFail("self-signing the CA");
  CertifiedKey out;
  LL_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  LL_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

static Result<std::string> IssueLeaf(const CertifiedKey& ca, std::string_view common_name,
                                     EVP_PKEY* public_key, const std::string& san, const char* eku,
                                     Validity validity) {
  LL_ASSIGN_OR_RETURN(X509Ptr ca_cert, CertFromPem(ca.cert_pem));
  LL_ASSIGN_OR_RETURN(PkeyPtr ca_key, KeyFromPem(ca.key_pem));
  LL_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(common_name, public_key, validity));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage, eku));
  LL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  LL_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (!san.empty())
    LL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_alt_name, san));
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256())) return SslFail("signing a certificate");
  return CertToPem(cert.get());
}

Result<CertifiedKey> IssueServerCert(const CertifiedKey& ca, std::string_view common_name,
                                     const std::vector<std::string>& names, Validity validity) {
  std::string san = "IP:127.0.0.1,DNS:localhost";
  for (const auto& n : names) {
    if (n.empty() || n.find_first_of(", \t\n") != std::string::npos)
      return Status::InvalidArgument("bad server name '" + n + "'");
    if (n == "127.0.0.1" || n == "localhost") continue;
    san += (LooksLikeIp(n) ? ",IP:" : ",DNS:") + n;
  }
  LL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  CertifiedKey out;
  LL_ASSIGN_OR_RETURN(out.cert_pem,
                      IssueLeaf(ca, common_name, key.get(), san, "serverAuth", validity));
  LL_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

Result<KeyAndCsr> CreateKeyAndCsr(std::string_view common_name) {
  LL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  std::string cn(common_name);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (!X509_REQ_set_pubkey(req.get(), key.get())) return SslFail("CSR public key");
  if (!X509_REQ_sign(req.get(), key.get(), EVP_sha256())) return SslFail("signing the CSR");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509_REQ(bio.get(), req.get())) return SslFail("writing the CSR");
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  KeyAndCsr out;
  out.csr_pem.assign(p, size_t(n));
  LL_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

Result<std::string> SignClientCsr(const CertifiedKey& ca, std::string_view csr_pem,
                                  std::string_view agent_id, Validity validity) {
  if (agent_id.empty() || agent_id.size() > 64)
    return Status::InvalidArgument("agent id must be 1..64 characters");
  if (csr_pem.size() > 64 * 1024) return Status::InvalidArgument("CSR larger than 64 KiB");
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), int(csr_pem.size())));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return Status::InvalidArgument("not a PEM certificate request: " + SslErrors());
  PkeyPtr key(X509_REQ_get_pubkey(req.get()));
  if (!key) return Status::InvalidArgument("CSR without a public key");
  if (X509_REQ_verify(req.get(), key.get()) != 1)
    return Status::InvalidArgument("CSR signature does not verify: " + SslErrors());
  return IssueLeaf(ca, agent_id, key.get(), "", "clientAuth", validity);
}

Result<std::string> CertCommonName(std::string_view cert_pem) {
  LL_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
  char buf[256];
  int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
  if (n < 0) return Status::NotFound("certificate has no common name");
  return std::string(buf, size_t(n));
}

Status VerifyCert(std::string_view cert_pem, std::string_view ca_cert_pem) {
  LL_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
  LL_ASSIGN_OR_RETURN(X509Ptr ca, CertFromPem(ca_cert_pem));
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  if (X509_verify_cert(ctx.get()) != 1)
    return Status::Unauthenticated(
        std::string("certificate rejected: ") +
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  return Status::Ok();
}

std::string GenerateSecret(std::string_view prefix) {
  uint8_t raw[32];
  // The DRBG failing means the process cannot make secrets at all: stop.
  LL_CHECK(RAND_bytes(raw, sizeof raw) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string s(prefix);
  s += '_';
  for (uint8_t b : raw) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  OPENSSL_cleanse(raw, sizeof raw);
  return s;
}

std::string HashSecret(std::string_view secret) {
  uint8_t md[32];
  unsigned int n = 0;
  LL_CHECK(EVP_Digest(secret.data(), secret.size(), md, &n, EVP_sha256(), nullptr) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += kHex[md[i] >> 4];
    s += kHex[md[i] & 15];
  }
  return s;
}

bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  std::string h = HashSecret(secret);
  return h.size() == stored_hash.size() &&
         CRYPTO_memcmp(h.data(), stored_hash.data(), h.size()) == 0;
}

Status WritePrivateFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "creating " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::FromErrno(e, "writing " + tmp);
    }
    done += size_t(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno(e, "syncing " + tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "renaming " + tmp);
  return FileSystem::Posix()->SyncDir(DirName(path));
}

// ---- registration keys ----

Result<std::vector<RegistrationKeys::Entry>> RegistrationKeys::Load() {
  std::vector<Entry> entries;
  if (!FileSystem::Posix()->Exists(path_)) return entries;
  LL_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(FileSystem::Posix(), path_, 16 << 20));
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    if (sp != 64) return Status::Corruption(path_ + ": malformed registration key line");
    Entry e;
    e.hash = line.substr(0, sp);
    e.expires_unix_s = std::strtoll(line.c_str() + sp + 1, nullptr, 10);
    entries.push_back(std::move(e));
  }
  return entries;
}

Status RegistrationKeys::Store(const std::vector<Entry>& entries) {
  std::string text;
  for (const auto& e : entries) text += e.hash + " " + std::to_string(e.expires_unix_s) + "\n";
  return WritePrivateFile(path_, text);
}

namespace {
// Holds flock() on a side file so two processes never consume the same key.
class FileLockGuard {
 public:
  explicit FileLockGuard(const std::string& path)
      : fd_(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLockGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};
}  // namespace

Result<std::string> RegistrationKeys::Create(int64_t now_unix_s, int64_t ttl_s) {
  std::lock_guard<std::mutex> l(mu_);
  FileLockGuard lock(path_);
  if (!lock.ok()) return Status::FromErrno(errno, "locking " + path_);
  LL_ASSIGN_OR_RETURN(auto entries, Load());
  std::string key = GenerateSecret("llr");
  entries.push_back({HashSecret(key), now_unix_s + ttl_s});
  LL_RETURN_IF_ERROR(Store(entries));
  return key;
}

Status RegistrationKeys::Consume(std::string_view key, int64_t now_unix_s) {
  std::lock_guard<std::mutex> l(mu_);
  FileLockGuard lock(path_);
  if (!lock.ok()) return Status::FromErrno(errno, "locking " + path_);
  LL_ASSIGN_OR_RETURN(auto entries, Load());
  bool found = false, expired = false;
  std::vector<Entry> kept;
  for (auto& e : entries) {
    if (!found && SecretMatches(key, e.hash)) {
      found = true;
      expired = e.expires_unix_s <= now_unix_s;
      continue;  // consumed (or expired): removed either way
    }
    if (e.expires_unix_s > now_unix_s) kept.push_back(std::move(e));
  }
  if (kept.size() != entries.size()) LL_RETURN_IF_ERROR(Store(kept));
  if (!found)
    return Status::Unauthenticated(
        "registration key unknown or already used: create a new one "
        "with the vault");
  if (expired) return Status::Unauthenticated("registration key expired: create a new one");
  return Status::Ok();
}

Result<size_t> RegistrationKeys::Count() {
  std::lock_guard<std::mutex> l(mu_);
  LL_ASSIGN_OR_RETURN(auto entries, Load());
  return entries.size();
}

}  // namespace lifeline::wire
