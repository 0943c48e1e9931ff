// The recovery configuration API (vault/recovery_config.h) over a real catalog: machine
// launcher and size, NICs, network mappings, static addresses and the preview, with every
// malformed request refused and nothing stored by it.
#include "vault/recovery_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "recovery_test_util.h"

namespace lifeline::vault {
namespace {

using namespace recovery_testing;
using nlohmann::json;

class RecoveryConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("reccfg");
    auto c = control::Catalog::Open(dir_ + "/catalog.db");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    control::Machine m;
    m.name = "web1";
    m.state = "protected";
    ASSERT_TRUE(catalog_->AddMachine(m).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Code CodeOf(const Result<json>& r) { return r.ok() ? Code::kOk : r.status().code(); }
  std::string Message(const Result<json>& r) { return r.ok() ? "" : r.status().message(); }

  json LanMapping() {
    return {{"source", "lan"},
            {"recovery", {{"network", "dr-lan"}, {"subnet", "10.50.1.0/24"}, {"gateway", "10.50.1.1"}}},
            {"drill",
             {{"network", "drill-lan"}, {"subnet", "10.0.0.0/24"}, {"reserved", {"10.0.0.5"}}}}};
  }

  std::string dir_;
  std::unique_ptr<control::Catalog> catalog_;
  control::LauncherRegistry launchers_ = control::LauncherRegistry::WithBuiltins();
};

TEST_F(RecoveryConfigTest, MachineLauncherAndSize) {
  auto r = SetMachineConfig(catalog_.get(), launchers_, "web1",
                            {{"launcher", "command"},
                             {"launcher_config", {{"command", {"/bin/true"}}}},
                             {"cpus", 4},
                             {"memory_mib", 2048}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto got = GetMachineConfig(catalog_.get(), "web1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["launcher"], "command");
  EXPECT_EQ((*got)["launcher_config"]["command"][0], "/bin/true");
  EXPECT_EQ((*got)["cpus"], 4);
  EXPECT_EQ((*got)["memory_mib"], 2048);
  // Only the given fields change.
  ASSERT_TRUE(SetMachineConfig(catalog_.get(), launchers_, "web1", {{"cpus", 2}}).ok());
  got = GetMachineConfig(catalog_.get(), "web1");
  EXPECT_EQ((*got)["cpus"], 2);
  EXPECT_EQ((*got)["launcher"], "command");
  EXPECT_EQ((*got)["memory_mib"], 2048);
  // A new launcher without a config starts from that launcher's defaults.
  ASSERT_TRUE(SetMachineConfig(catalog_.get(), launchers_, "web1", {{"launcher", "qemu"}}).ok());
  got = GetMachineConfig(catalog_.get(), "web1");
  EXPECT_EQ((*got)["launcher_config"], json::object());
}

TEST_F(RecoveryConfigTest, BadMachineConfigIsRefusedAndChangesNothing) {
  auto set = [&](const json& body) { return SetMachineConfig(catalog_.get(), launchers_, "web1", body); };
  EXPECT_EQ(CodeOf(set({{"launcher", "vmware"}})), Code::kNotFound);
  EXPECT_EQ(CodeOf(set({{"launcher", "command"}, {"launcher_config", {{"comand", "x"}}}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"launcher_config", "not an object"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"cpus", 0}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"cpus", 2.5}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"cpus", "2"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"memory_mib", uint64_t(1) << 63}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(set({{"memory_mib", -1}})), Code::kInvalidArgument);
  auto unknown = set({{"cpu", 2}});
  EXPECT_EQ(CodeOf(unknown), Code::kInvalidArgument);
  EXPECT_NE(Message(unknown).find("unknown field 'cpu'"), std::string::npos) << Message(unknown);
  EXPECT_EQ(CodeOf(set(json::array())), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(SetMachineConfig(catalog_.get(), launchers_, "ghost", {{"cpus", 2}})),
            Code::kNotFound);
  auto got = GetMachineConfig(catalog_.get(), "web1");
  EXPECT_EQ((*got)["launcher"], "qemu");
  EXPECT_EQ((*got)["cpus"], 1);
}

TEST_F(RecoveryConfigTest, NicsAreAddedReplacedAndRemoved) {
  ASSERT_TRUE(PutNic(catalog_.get(), "web1", {{"index", 1}, {"network", "dmz"}}).ok());
  auto r = PutNic(catalog_.get(), "web1",
                  {{"index", 0}, {"network", "lan"}, {"ip", "10.0.0.5"}, {"mac", "52:54:00:00:00:01"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)["nics"].size(), 2u);
  EXPECT_EQ((*r)["nics"][0]["index"], 0);  // in index order
  EXPECT_EQ((*r)["nics"][0]["ip"], "10.0.0.5");
  r = PutNic(catalog_.get(), "web1", {{"index", 0}, {"network", "lan"}, {"ip", "10.0.0.6"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["nics"].size(), 2u);
  EXPECT_EQ((*r)["nics"][0]["ip"], "10.0.0.6");
  r = DeleteNic(catalog_.get(), "web1", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["nics"].size(), 1u);
  EXPECT_EQ(CodeOf(DeleteNic(catalog_.get(), "web1", 1)), Code::kNotFound);

  // Malformed NICs.
  for (const json& bad : {json{{"network", "lan"}}, json{{"index", 16}, {"network", "lan"}},
                          json{{"index", -1}, {"network", "lan"}}, json{{"index", 0.5}, {"network", "lan"}},
                          json{{"index", 2}}, json{{"index", 2}, {"network", "l an"}},
                          json{{"index", 2}, {"network", "lan"}, {"ip", "10.0.0.256"}},
                          json{{"index", 2}, {"network", "lan"}, {"mac", "52-54-00-00-00-01"}},
                          json{{"index", 2}, {"network", "lan"}, {"vlan", 7}}}) {
    EXPECT_EQ(CodeOf(PutNic(catalog_.get(), "web1", bad)), Code::kInvalidArgument) << bad.dump();
  }
  EXPECT_EQ(GetMachineConfig(catalog_.get(), "web1")->at("nics").size(), 1u);
}

TEST_F(RecoveryConfigTest, MappingsStaticAddressesAndPreview) {
  ASSERT_TRUE(PutNic(catalog_.get(), "web1", {{"index", 0}, {"network", "lan"}, {"ip", "10.0.0.5"}}).ok());
  // Unmapped: the preview says what a failover would stop with.
  auto none = PreviewNics(catalog_.get(), "web1", "recovery");
  EXPECT_EQ(CodeOf(none), Code::kNotFound);
  EXPECT_NE(Message(none).find("lifeline netmap add lan"), std::string::npos) << Message(none);

  auto m = PutNetworkMapping(catalog_.get(), LanMapping());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto list = ListNetworkMappings(catalog_.get());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0]["recovery"]["gateway"], "10.50.1.1");
  EXPECT_EQ((*list)[0]["drill"]["reserved"][0], "10.0.0.5");

  // Recovery: 10.0.0.5 is outside 10.50.1.0/24 → the next free address after the gateway.
  auto p = PreviewNics(catalog_.get(), "web1", "recovery");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)["nics"][0]["ip"], "10.50.1.2");
  EXPECT_EQ((*p)["nics"][0]["gateway"], "10.50.1.1");
  EXPECT_EQ((*p)["nics"][0]["reason"], "next free");
  // Drill: 10.0.0.5 is inside but reserved → next free.
  p = PreviewNics(catalog_.get(), "web1", "drill");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["nics"][0]["ip"], "10.0.0.1");
  EXPECT_EQ((*p)["nics"][0]["network"], "drill-lan");

  // A static rule wins over the next free address.
  auto rule = PutStaticIp(catalog_.get(), {{"machine", "web1"}, {"nic", 0}, {"mode", "recovery"}, {"ip", "10.50.1.40"}});
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  p = PreviewNics(catalog_.get(), "web1", "recovery");
  EXPECT_EQ((*p)["nics"][0]["ip"], "10.50.1.40");
  EXPECT_EQ((*p)["nics"][0]["reason"], "static rule");
  EXPECT_EQ(ListStaticIps(catalog_.get(), "web1")->size(), 1u);
  EXPECT_EQ(CodeOf(ListStaticIps(catalog_.get(), "ghost")), Code::kNotFound);
  ASSERT_TRUE(DeleteStaticIp(catalog_.get(), "web1", 0, "recovery").ok());
  EXPECT_EQ(CodeOf(DeleteStaticIp(catalog_.get(), "web1", 0, "recovery")), Code::kNotFound);
  EXPECT_EQ(CodeOf(DeleteStaticIp(catalog_.get(), "web1", 0, "both")), Code::kInvalidArgument);
  ASSERT_TRUE(DeleteNetworkMapping(catalog_.get(), "lan").ok());
  EXPECT_EQ(CodeOf(DeleteNetworkMapping(catalog_.get(), "lan")), Code::kNotFound);
  EXPECT_EQ(CodeOf(PreviewNics(catalog_.get(), "web1", "sideways")), Code::kInvalidArgument);
}

TEST_F(RecoveryConfigTest, MalformedMappingsAndRulesAreRefused) {
  auto with = [&](const char* key, const json& value) {
    json m = LanMapping();
    if (value.is_null()) {
      m.erase(key);
    } else {
      m[key] = value;
    }
    return PutNetworkMapping(catalog_.get(), m);
  };
  EXPECT_EQ(CodeOf(with("source", nullptr)), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("source", 5)), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", nullptr)), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", "10.0.0.0/24")), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.1/24"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.0/33"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.0/24"}, {"gateway", "10.9.0.1"}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.0/24"}, {"reserved", "10.0.0.9"}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.0/24"}, {"reserved", {7}}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("drill", {{"network", "d"}, {"subnet", "10.0.0.0/24"}, {"vlan", 7}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(with("extra", true)), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(PutNetworkMapping(catalog_.get(), json::array())), Code::kInvalidArgument);
  EXPECT_TRUE(ListNetworkMappings(catalog_.get())->empty());

  auto rule = [&](const json& body) { return PutStaticIp(catalog_.get(), body); };
  EXPECT_EQ(CodeOf(rule({{"nic", 0}, {"ip", "10.0.0.9"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(rule({{"machine", "web1"}, {"nic", 0}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(rule({{"machine", "web1"}, {"nic", 0}, {"ip", "ten"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(rule({{"machine", "web1"}, {"nic", 99}, {"ip", "10.0.0.9"}})), Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(rule({{"machine", "web1"}, {"nic", 0}, {"mode", "test"}, {"ip", "10.0.0.9"}})),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOf(rule({{"machine", "ghost"}, {"nic", 0}, {"ip", "10.0.0.9"}})), Code::kNotFound);
  EXPECT_TRUE(ListStaticIps(catalog_.get(), "")->empty());
}

}  // namespace
}  // namespace lifeline::vault
