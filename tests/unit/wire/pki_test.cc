// The vault CA: certificates chain, names and usages are right, secrets are one-time.
#include "wire/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs.h"
#include "test_pki.h"

namespace lifeline::wire {
namespace {

TEST(PkiTest, IssuedCertificatesChainToTheCa) {
  testing::TestPki pki = testing::MakeTestPki("agent-7");
  EXPECT_TRUE(VerifyCert(pki.server.cert_pem, pki.ca.cert_pem).ok());
  EXPECT_TRUE(VerifyCert(pki.client.cert_pem, pki.ca.cert_pem).ok());
  EXPECT_EQ(*CertCommonName(pki.client.cert_pem), "agent-7");
  auto other = CreateCa("other CA");
  ASSERT_TRUE(other.ok());
  Status st = VerifyCert(pki.client.cert_pem, other->cert_pem);
  EXPECT_EQ(st.code(), Code::kUnauthenticated);
}

TEST(PkiTest, ExpiredCertificateFailsVerification) {
  auto ca = CreateCa("ca");
  ASSERT_TRUE(ca.ok());
  auto old = testing::MakeClientCert(*ca, "agent-1", Validity{-7200, 3600});
  Status st = VerifyCert(old.cert_pem, ca->cert_pem);
  EXPECT_EQ(st.code(), Code::kUnauthenticated);
  EXPECT_NE(st.message().find("expired"), std::string::npos) << st.ToString();
}

TEST(PkiTest, SignClientCsrUsesTheVaultsAgentIdNotTheCsrs) {
  auto ca = CreateCa("ca");
  auto kc = CreateKeyAndCsr("i-claim-to-be-admin");
  ASSERT_TRUE(ca.ok() && kc.ok());
  auto cert = SignClientCsr(*ca, kc->csr_pem, "agent-3");
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(*CertCommonName(*cert), "agent-3");
  EXPECT_EQ(SignClientCsr(*ca, "garbage", "agent-3").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SignClientCsr(*ca, kc->csr_pem, "").status().code(), Code::kInvalidArgument);
  // A CSR whose body was altered no longer verifies.
  std::string tampered = kc->csr_pem;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(SignClientCsr(*ca, tampered, "agent-3").ok());
}

TEST(PkiTest, ServerNamesGoIntoTheSan) {
  auto ca = CreateCa("ca");
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(IssueServerCert(*ca, "vault", {"10.1.2.3", "vault.dr.example", "::1"}).ok());
  EXPECT_EQ(IssueServerCert(*ca, "vault", {"bad name"}).status().code(), Code::kInvalidArgument);
}

TEST(PkiTest, SecretsAreRandomAndCheckedByHash) {
  std::string a = GenerateApiToken(), b = GenerateApiToken();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("llt_", 0), 0u);
  EXPECT_EQ(a.size(), 4u + 64u);
  std::string h = HashSecret(a);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find(a.substr(4)), std::string::npos);  // the hash does not contain the secret
  EXPECT_TRUE(SecretMatches(a, h));
  EXPECT_FALSE(SecretMatches(b, h));
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lifeline-pki-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PkiTest, RegistrationKeysAreOneTimeAndExpire) {
  TempDir dir;
  std::string file = dir.path() + "/registration-keys";
  RegistrationKeys keys(file);
  auto k1 = keys.Create(1000, 60);
  auto k2 = keys.Create(1000, 60);
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_NE(*k1, *k2);
  // Stored hashed, owner-only.
  std::string text = *ReadWholeFile(FileSystem::Posix(), file, 1 << 20);
  EXPECT_EQ(text.find(k1->substr(4)), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_TRUE(keys.Consume(*k1, 1010).ok());
  Status again = keys.Consume(*k1, 1010);
  EXPECT_EQ(again.code(), Code::kUnauthenticated);
  EXPECT_NE(again.message().find("already used"), std::string::npos);
  EXPECT_EQ(keys.Consume("llr_nonsense", 1010).code(), Code::kUnauthenticated);
  Status late = keys.Consume(*k2, 2000);
  EXPECT_EQ(late.code(), Code::kUnauthenticated);
  EXPECT_NE(late.message().find("expired"), std::string::npos);
  EXPECT_EQ(*keys.Count(), 0u);
  // A fresh object over the same file sees the same state (it is persisted).
  auto k3 = keys.Create(3000, 60);
  RegistrationKeys reopened(file);
  EXPECT_TRUE(reopened.Consume(*k3, 3001).ok());
}

}  // namespace
}  // namespace lifeline::wire
