#include "test_pki.h"

#include <cstdio>
#include <cstdlib>

namespace lifeline::wire::testing {

namespace {
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "test PKI: %s: %s\n", what, r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}
}  // namespace

CertifiedKey MakeClientCert(const CertifiedKey& ca, const std::string& agent_id,
                            Validity validity) {
  KeyAndCsr kc = Must(CreateKeyAndCsr(agent_id), "CSR");
  CertifiedKey c;
  c.key_pem = kc.key_pem;
  c.cert_pem = Must(SignClientCsr(ca, kc.csr_pem, agent_id, validity), "sign CSR");
  return c;
}

TestPki MakeTestPki(const std::string& agent_id) {
  TestPki p;
  p.ca = Must(CreateCa("test vault CA"), "CA");
  p.server = Must(IssueServerCert(p.ca, "vault", {}), "server cert");
  p.client = MakeClientCert(p.ca, agent_id);
  return p;
}

std::shared_ptr<TlsContext> ServerContext(const TestPki& pki) {
  TlsConfig c{false, pki.ca.cert_pem, pki.server.cert_pem, pki.server.key_pem};
  return Must(TlsContext::Create(c, TlsRole::kServer), "server context");
}

std::shared_ptr<TlsContext> ClientContext(const CertifiedKey& ca, const CertifiedKey& client) {
  TlsConfig c{false, ca.cert_pem, client.cert_pem, client.key_pem};
  return Must(TlsContext::Create(c, TlsRole::kClient), "client context");
}

}  // namespace lifeline::wire::testing
