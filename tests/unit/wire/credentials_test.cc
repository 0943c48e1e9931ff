// Vault init and agent registration on disk, ending in a mutually authenticated stream.
#include "wire/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "test_vault.h"
#include "wire/messages.h"
#include "wire/transport.h"

namespace lifeline::wire {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lifeline-cred-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST_F(CredentialsTest, InitOnceThenRegisterAnAgentAndConnect) {
  std::string vault = root_ + "/vault/pki", agent = root_ + "/agent";
  auto token = InitVaultCredentials(vault, {"vault.dr.example"});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->rfind("llt_", 0), 0u);
  EXPECT_EQ(Mode(vault + "/ca.key"), 0600u);
  EXPECT_EQ(Mode(vault + "/server.key"), 0600u);
  EXPECT_TRUE(*CheckAdminToken(vault, *token));
  EXPECT_FALSE(*CheckAdminToken(vault, "llt_wrong"));
  // A second init never replaces the vault's identity.
  EXPECT_EQ(InitVaultCredentials(vault, {}).status().code(), Code::kFailedPrecondition);

  auto key = CreateRegistrationKey(vault, 1000);
  ASSERT_TRUE(key.ok());
  auto kc = CreateKeyAndCsr("agent-db01");
  ASSERT_TRUE(kc.ok());
  // A malformed CSR is refused without spending the key.
  EXPECT_EQ(RegisterAgent(vault, *key, "not a csr", "agent-db01", 1001).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(RegisterAgent(vault, "llr_guess", kc->csr_pem, "agent-db01", 1001).status().code(),
            Code::kUnauthenticated);
  auto cert = RegisterAgent(vault, *key, kc->csr_pem, "agent-db01", 1001);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(RegisterAgent(vault, *key, kc->csr_pem, "agent-db01", 1002).status().code(),
            Code::kUnauthenticated);  // one-time
  auto ca = LoadCa(vault);
  ASSERT_TRUE(ca.ok());
  ASSERT_TRUE(SaveAgentCredentials(agent, kc->key_pem, *cert, ca->cert_pem).ok());
  EXPECT_EQ(Mode(agent + "/agent.key"), 0600u);

  auto server_cfg = LoadVaultTlsConfig(vault);
  auto agent_cfg = LoadAgentTlsConfig(agent);
  ASSERT_TRUE(server_cfg.ok() && agent_cfg.ok());
  auto server_tls = TlsContext::Create(*server_cfg, TlsRole::kServer);
  auto agent_tls = TlsContext::Create(*agent_cfg, TlsRole::kClient);
  ASSERT_TRUE(server_tls.ok() && agent_tls.ok());
  testing::MiniVault mini;
  auto server = Server::Start(ServerOptions{}, *server_tls, [&](Connection& c) { mini.Serve(c); });
  ASSERT_TRUE(server.ok());
  auto conn = Connect(Endpoint{"127.0.0.1", (*server)->port()}, *agent_tls);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Hello h;
  h.agent_id = "agent-db01";
  h.disk_id = "db01-sda";
  ASSERT_TRUE((*conn)->Send(Encode(h)).ok());
  auto f = (*conn)->Receive(5000);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->type, FrameType::kHelloOk);
  EXPECT_EQ(mini.identity(), "agent-db01");
}

TEST_F(CredentialsTest, MissingFilesAreNotFound) {
  EXPECT_EQ(LoadVaultTlsConfig(root_ + "/nothing").status().code(), Code::kNotFound);
  EXPECT_EQ(LoadAgentTlsConfig(root_).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace lifeline::wire
