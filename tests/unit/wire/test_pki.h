// Test helpers: a throwaway vault PKI (CA, server certificate, client certificate) and
// TLS contexts built from it. Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "wire/pki.h"
#include "wire/tls.h"
#include "wire/transport.h"

namespace lifeline::wire::testing {

struct TestPki {
  CertifiedKey ca;
  CertifiedKey server;
  CertifiedKey client;  // CN "agent-1"
};

// Aborts the test binary on failure (PKI creation is not what these tests test).
TestPki MakeTestPki(const std::string& agent_id = "agent-1");
// A client certificate for `agent_id` signed by `ca` with the given validity.
CertifiedKey MakeClientCert(const CertifiedKey& ca, const std::string& agent_id,
                            Validity validity = {});

std::shared_ptr<TlsContext> ServerContext(const TestPki& pki);
std::shared_ptr<TlsContext> ClientContext(const CertifiedKey& ca, const CertifiedKey& client);

}  // namespace lifeline::wire::testing
