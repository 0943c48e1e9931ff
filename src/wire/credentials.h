// Credential files on disk, for `lifeline vault init` and `lifeline agent register`:
// the vault's CA, server certificate, registration keys and admin token hash under one
// directory, and an agent's key, certificate and trusted CA under another. Private files
// are written 0600, atomically and durably. Thread-safe (no shared state; the
// registration key file is locked while used).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wire/pki.h"
#include "wire/tls.h"

namespace lifeline::wire {

// File names inside a vault's PKI directory.
inline constexpr const char* kCaCertFile = "ca.crt";
inline constexpr const char* kCaKeyFile = "ca.key";
inline constexpr const char* kServerCertFile = "server.crt";
inline constexpr const char* kServerKeyFile = "server.key";
inline constexpr const char* kRegistrationKeysFile = "registration-keys";
inline constexpr const char* kAdminTokenHashFile = "admin-token.sha256";
// File names inside an agent's credential directory.
inline constexpr const char* kAgentCertFile = "agent.crt";
inline constexpr const char* kAgentKeyFile = "agent.key";

// Creates the CA, the server certificate (SAN 127.0.0.1, localhost and `server_names`)
// and an admin API token under `dir` (created if missing). Returns the admin token: it is
// shown once and only its hash is stored. FailedPrecondition if `dir` already holds a CA
// (never overwrite a vault's identity).
Result<std::string> InitVaultCredentials(const std::string& dir,
                                         const std::vector<std::string>& server_names);

Result<CertifiedKey> LoadCa(const std::string& dir);
// TLS material for the vault's listener.
Result<TlsConfig> LoadVaultTlsConfig(const std::string& dir);
// True when `token` is the vault's admin token (constant-time compare of hashes).
Result<bool> CheckAdminToken(const std::string& dir, std::string_view token);

// A one-time registration key for a new agent, valid `ttl_s` seconds.
Result<std::string> CreateRegistrationKey(const std::string& dir, int64_t now_unix_s,
                                          int64_t ttl_s = 24 * 3600);
// Vault side of `agent register`: checks the CSR first (a malformed request does not burn
// the key), then consumes the key, then signs a client certificate for `agent_id`.
// Unauthenticated for an unknown, used or expired key.
Result<std::string> RegisterAgent(const std::string& dir, std::string_view registration_key,
                                  std::string_view csr_pem, std::string_view agent_id,
                                  int64_t now_unix_s);

// Agent side: stores the key, the issued certificate and the vault's CA certificate.
Status SaveAgentCredentials(const std::string& dir, std::string_view key_pem,
                            std::string_view cert_pem, std::string_view ca_cert_pem);
Result<TlsConfig> LoadAgentTlsConfig(const std::string& dir);

}  // namespace lifeline::wire
