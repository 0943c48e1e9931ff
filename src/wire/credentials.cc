#include "wire/credentials.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/fs.h"

namespace lifeline::wire {

namespace {

FileSystem* Fs() { return FileSystem::Posix(); }

Result<std::string> ReadSmall(const std::string& dir, const char* name) {
  std::string path = JoinPath(dir, name);
  if (!Fs()->Exists(path)) return Status::NotFound(path + " is missing");
  return ReadWholeFile(Fs(), path, 1 << 20);
}

// A CSR is checked before a registration key is spent on it.
Status CheckCsr(std::string_view csr_pem) {
  if (csr_pem.size() > 64 * 1024) return Status::InvalidArgument("CSR larger than 64 KiB");
  BIO* bio = BIO_new_mem_buf(csr_pem.data(), int(csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!req) return Status::InvalidArgument("not a PEM certificate request");
  EVP_PKEY* key = X509_REQ_get_pubkey(req);
  bool ok = key && X509_REQ_verify(req, key) == 1;
  EVP_PKEY_free(key);
  X509_REQ_free(req);
  if (!ok) return Status::InvalidArgument("CSR signature does not verify");
  return Status::Ok();
}

}  // namespace

Result<std::string> InitVaultCredentials(const std::string& dir,
                                         const std::vector<std::string>& server_names) {
  LL_RETURN_IF_ERROR(Fs()->MakeDirs(dir));
  if (Fs()->Exists(JoinPath(dir, kCaKeyFile)))
    return Status::FailedPrecondition(dir + " already holds a vault CA; refusing to replace it");
  LL_ASSIGN_OR_RETURN(CertifiedKey ca, CreateCa("lifeline vault CA"));
  LL_ASSIGN_OR_RETURN(CertifiedKey server, IssueServerCert(ca, "lifeline vault", server_names));
  std::string token = GenerateApiToken();
  // Public files first, the CA key last: its presence marks a complete init.
  LL_RETURN_IF_ERROR(WriteFileAtomic(Fs(), JoinPath(dir, kCaCertFile), ca.cert_pem));
  LL_RETURN_IF_ERROR(WriteFileAtomic(Fs(), JoinPath(dir, kServerCertFile), server.cert_pem));
  LL_RETURN_IF_ERROR(WritePrivateFile(JoinPath(dir, kServerKeyFile), server.key_pem));
  LL_RETURN_IF_ERROR(
      WritePrivateFile(JoinPath(dir, kAdminTokenHashFile), HashSecret(token) + "\n"));
  LL_RETURN_IF_ERROR(WritePrivateFile(JoinPath(dir, kCaKeyFile), ca.key_pem));
  return token;
}

Result<CertifiedKey> LoadCa(const std::string& dir) {
  CertifiedKey ca;
  LL_ASSIGN_OR_RETURN(ca.cert_pem, ReadSmall(dir, kCaCertFile));
  LL_ASSIGN_OR_RETURN(ca.key_pem, ReadSmall(dir, kCaKeyFile));
  return ca;
}

Result<TlsConfig> LoadVaultTlsConfig(const std::string& dir) {
  TlsConfig c;
  LL_ASSIGN_OR_RETURN(c.ca_cert_pem, ReadSmall(dir, kCaCertFile));
  LL_ASSIGN_OR_RETURN(c.cert_pem, ReadSmall(dir, kServerCertFile));
  LL_ASSIGN_OR_RETURN(c.key_pem, ReadSmall(dir, kServerKeyFile));
  return c;
}

Result<bool> CheckAdminToken(const std::string& dir, std::string_view token) {
  LL_ASSIGN_OR_RETURN(std::string stored, ReadSmall(dir, kAdminTokenHashFile));
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == ' ')) stored.pop_back();
  return SecretMatches(token, stored);
}

Result<std::string> CreateRegistrationKey(const std::string& dir, int64_t now_unix_s,
                                          int64_t ttl_s) {
  RegistrationKeys keys(JoinPath(dir, kRegistrationKeysFile));
  return keys.Create(now_unix_s, ttl_s);
}

Result<std::string> RegisterAgent(const std::string& dir, std::string_view registration_key,
                                  std::string_view csr_pem, std::string_view agent_id,
                                  int64_t now_unix_s) {
  LL_RETURN_IF_ERROR(CheckCsr(csr_pem));
  LL_ASSIGN_OR_RETURN(CertifiedKey ca, LoadCa(dir));
  RegistrationKeys keys(JoinPath(dir, kRegistrationKeysFile));
  LL_RETURN_IF_ERROR(keys.Consume(registration_key, now_unix_s));
  return SignClientCsr(ca, csr_pem, agent_id);
}

Status SaveAgentCredentials(const std::string& dir, std::string_view key_pem,
                            std::string_view cert_pem, std::string_view ca_cert_pem) {
  LL_RETURN_IF_ERROR(Fs()->MakeDirs(dir));
  LL_RETURN_IF_ERROR(WriteFileAtomic(Fs(), JoinPath(dir, kCaCertFile), ca_cert_pem));
  LL_RETURN_IF_ERROR(WriteFileAtomic(Fs(), JoinPath(dir, kAgentCertFile), cert_pem));
  return WritePrivateFile(JoinPath(dir, kAgentKeyFile), key_pem);
}

Result<TlsConfig> LoadAgentTlsConfig(const std::string& dir) {
  TlsConfig c;
  LL_ASSIGN_OR_RETURN(c.ca_cert_pem, ReadSmall(dir, kCaCertFile));
  LL_ASSIGN_OR_RETURN(c.cert_pem, ReadSmall(dir, kAgentCertFile));
  LL_ASSIGN_OR_RETURN(c.key_pem, ReadSmall(dir, kAgentKeyFile));
  return c;
}

}  // namespace lifeline::wire
