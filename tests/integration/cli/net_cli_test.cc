// The `lifeline net` commands end to end: exit codes and JSON on stdout.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
};

CliRun Lifeline(const std::string& args) {
  std::string cmd = std::string(LIFELINE_BINARY) + " " + args + " 2>/dev/null";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr) << cmd;
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Example(const char* name) {
  return std::string(LIFELINE_SOURCE_DIR) + "/examples/net/" + name + ".yaml";
}

TEST(NetCli, CheckCleanExampleExitsZeroWithJson) {
  CliRun r = Lifeline("net check --json " + Example("hub-spoke-two-circuits"));
  EXPECT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["errors"], 0);
}

TEST(NetCli, CheckExitsOneOnAnErrorAndOnAParseError) {
  std::string path = ::testing::TempDir() + "/net_cli_bad.yaml";
  std::ifstream in(Example("single-circuit-retain-ip"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("bandwidth_mbps: 200"), 19, "bandwidth_mbps: 300");
  std::ofstream(path) << text;
  CliRun r = Lifeline("net check --json " + path);
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["findings"][0]["rule"], "circuit.bandwidth");
  EXPECT_GT(j["findings"][0]["line"].get<int>(), 0);

  std::ofstream(path) << "name: x\nvnetz: []\n";
  r = Lifeline("net check " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lifeline("net check /nonexistent/x.yaml").exit_code, 10);
}

TEST(NetCli, CheckAgainstAnOlderVersion) {
  std::string path = ::testing::TempDir() + "/net_cli_new.yaml";
  std::ifstream in(Example("er-with-vpn-backup"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("family: UnlimitedData, name: Standard_UnlimitedData"), 51,
               "family: MeteredData, name: Standard_MeteredData");
  std::ofstream(path) << text;
  EXPECT_EQ(Lifeline("net check " + path).exit_code, 0);  // valid on its own
  CliRun r = Lifeline("net check --json " + path + " --against " + Example("er-with-vpn-backup"));
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& f : j["findings"]) found = found || f["rule"] == "change.unlimited-to-metered";
  EXPECT_TRUE(found) << r.out;
}

TEST(NetCli, RoutesSimulatePlanRules) {
  CliRun r = Lifeline("net routes --json --vnet hub " + Example("er-with-vpn-backup"));
  ASSERT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["vnets"].size(), 1u);
  r = Lifeline("net simulate --json --fail er-ams " + Example("er-with-vpn-backup"));
  ASSERT_EQ(r.exit_code, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["flows"][0]["reachable_after"], true);
  EXPECT_EQ(Lifeline("net simulate --fail nowhere " + Example("er-with-vpn-backup")).exit_code, 10);
  r = Lifeline("net plan --json " + Example("single-circuit-retain-ip"));
  ASSERT_EQ(r.exit_code, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["steps"][0]["action"], "disconnect-connection");
  r = Lifeline("net rules --json");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_GE(nlohmann::json::parse(r.out)["rules"].size(), 50u);
}

}  // namespace
