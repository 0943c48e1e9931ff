// The vault's small certificate authority (OpenSSL 3, EC P-256 keys, PEM): the CA, the
// server certificate, client certificates signed from agents' CSRs, one-time registration
// keys (stored hashed, consumed on use) and admin API tokens.
// Functions are thread-safe; RegistrationKeys is thread-safe (a mutex and a file lock).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lifeline::wire {

// A certificate and its private key, both PEM.
struct CertifiedKey {
  std::string cert_pem;
  std::string key_pem;
};

// Validity window relative to now (seconds). The default back-dates by 5 minutes so small
// clock differences between sites do not reject a fresh certificate.
struct Validity {
  int64_t not_before_offset_s = -300;
  int64_t lifetime_s = 825LL * 24 * 3600;
};

Result<CertifiedKey> CreateCa(std::string_view common_name,
                              Validity validity = {-300, 10LL * 365 * 24 * 3600});

// Server certificate for the vault: SAN always holds 127.0.0.1 and localhost plus `names`
// (each an IP address or a DNS name). EKU serverAuth.
Result<CertifiedKey> IssueServerCert(const CertifiedKey& ca, std::string_view common_name,
                                     const std::vector<std::string>& names, Validity validity = {});

// Agent side of registration: a new key and a CSR for it.
struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};
Result<KeyAndCsr> CreateKeyAndCsr(std::string_view common_name);

// Vault side: checks the CSR's signature and issues a client certificate (EKU clientAuth)
// whose subject CN is `agent_id` (the vault's choice, not the CSR's).
Result<std::string> SignClientCsr(const CertifiedKey& ca, std::string_view csr_pem,
                                  std::string_view agent_id, Validity validity = {});

// Subject common name of a PEM certificate.
Result<std::string> CertCommonName(std::string_view cert_pem);
// True when `cert_pem` was signed by `ca_cert_pem` and is within its validity window.
Status VerifyCert(std::string_view cert_pem, std::string_view ca_cert_pem);

// Random secrets: "<prefix>_" + 64 hex characters (256 bits from the OpenSSL DRBG).
std::string GenerateSecret(std::string_view prefix);
inline std::string GenerateApiToken() { return GenerateSecret("llt"); }
// SHA-256 hex of a secret: what is stored instead of the secret.
std::string HashSecret(std::string_view secret);
// Constant-time comparison of a secret with a stored hash.
bool SecretMatches(std::string_view secret, std::string_view stored_hash);

// Writes a file readable by its owner only (0600), atomically and durably (temp file,
// fsync, rename, fsync of the directory).
Status WritePrivateFile(const std::string& path, std::string_view data);

// One-time registration keys kept in a file of "<sha256-hex> <expires-unix-s>" lines.
// A key is returned once by Create() and never stored in clear; Consume() removes it.
class RegistrationKeys {
 public:
  explicit RegistrationKeys(std::string path) : path_(std::move(path)) {}
  // A new key valid for `ttl_s` seconds from `now_unix_s`.
  Result<std::string> Create(int64_t now_unix_s, int64_t ttl_s = 24 * 3600);
  // Ok and the key is gone if it was valid; Unauthenticated if unknown, used or expired.
  Status Consume(std::string_view key, int64_t now_unix_s);
  // Number of keys still stored (expired ones included until the next Consume()).
  Result<size_t> Count();

 private:
  struct Entry {
    std::string hash;
    int64_t expires_unix_s;
  };
  Result<std::vector<Entry>> Load();
  Status Store(const std::vector<Entry>& entries);
  std::string path_;
  std::mutex mu_;
};

}  // namespace lifeline::wire
