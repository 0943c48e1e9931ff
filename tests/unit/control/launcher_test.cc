#include "control/launcher.h"

#include <chrono>
#include <thread>

#include "test_util.h"

namespace lifeline::control {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using Json = nlohmann::json;

LaunchSpec TwoDiskSpec(const std::string& work_dir) {
  LaunchSpec s;
  s.machine = "web1";
  s.operation = "drill";
  s.cpus = 2;
  s.memory_mib = 1024;
  s.disks = {{"nbd://127.0.0.1:10809/web1-disk0", "", "raw"},
             {"", "/var/lib/lifeline/web,1.img", "raw"}};
  s.nics = {{"lan-drill", "10.1.0.5", 24, "10.1.0.1", "52:54:00:12:34:56"}};
  s.work_dir = work_dir;
  return s;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + " ";
  return out;
}

bool WaitExit(Launcher& l, const LaunchHandle& h, int64_t ms, LaunchStatus* st) {
  for (int64_t i = 0; i < ms / 10; ++i) {
    auto s = l.GetStatus(h);
    if (s.ok() && !s->running) {
      *st = *s;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(QemuCommand, DefaultTemplate) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv,
                       BuildQemuCommand(TwoDiskSpec("/tmp"), QemuConfig{}));
  std::string cmd = Joined(argv);
  EXPECT_EQ(argv[0], "qemu-system-x86_64");
  EXPECT_NE(cmd.find("-accel tcg"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("-smp 2 -m 1024"), std::string::npos) << cmd;
  EXPECT_NE(
      cmd.find("-drive driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,"
               "file.server.port=10809,file.export=web1-disk0,file.reconnect-delay=120,if=virtio,"
               "cache=none"),
      std::string::npos)
      << cmd;
  // A comma in a path is doubled for qemu's option parser.
  EXPECT_NE(cmd.find("file.filename=/var/lib/lifeline/web,,1.img"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("-nic none"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("-fw_cfg name=opt/lifeline/nic0,string=10.1.0.5/24 gw 10.1.0.1"),
            std::string::npos)
      << cmd;
}

TEST(QemuCommand, ConfigTemplateBridgesAndUnixSockets) {
  ASSERT_OK_AND_ASSIGN(
      QemuConfig c, QemuConfig::FromJson(Json{{"accel", "kvm"},
                                              {"nic_mode", "bridge"},
                                              {"bridges", {{"lan-drill", "br-drill"}}},
                                              {"template",
                                               {"{binary}", "-machine", "q35,accel={accel}", "-m",
                                                "{memory_mib}M", "{drives}", "{nics}", "{extra}"}},
                                              {"extra_args", {"-display", "none"}}}));
  LaunchSpec s = TwoDiskSpec("/tmp");
  s.disks = {{"nbd+unix:///exp0?socket=/run/lifeline/nbd.sock", "", "raw"}};
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv, BuildQemuCommand(s, c));
  std::string cmd = Joined(argv);
  EXPECT_NE(cmd.find("q35,accel=kvm -m 1024M"), std::string::npos) << cmd;
  EXPECT_NE(
      cmd.find("file.server.type=unix,file.server.path=/run/lifeline/nbd.sock,file.export=exp0"),
      std::string::npos)
      << cmd;
  EXPECT_NE(cmd.find("-nic bridge,br=br-drill,model=virtio-net-pci,mac=52:54:00:12:34:56"),
            std::string::npos)
      << cmd;
  EXPECT_NE(cmd.find("-display none"), std::string::npos) << cmd;
}

TEST(QemuCommand, Errors) {
  EXPECT_FALSE(QemuConfig::FromJson(Json{{"acel", "tcg"}}).ok());
  EXPECT_FALSE(QemuConfig::FromJson(Json{{"nic_mode", "tap"}}).ok());
  ASSERT_OK_AND_ASSIGN(QemuConfig bridge, QemuConfig::FromJson(Json{{"nic_mode", "bridge"}}));
  auto r = BuildQemuCommand(TwoDiskSpec("/tmp"), bridge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no bridge configured for network lan-drill"),
            std::string::npos);
  LaunchSpec s = TwoDiskSpec("/tmp");
  s.disks = {{"http://x/y", "", "raw"}};
  EXPECT_FALSE(BuildQemuCommand(s, QemuConfig{}).ok());
  s.disks = {{"nbd://host:99999/x", "", "raw"}};
  EXPECT_FALSE(BuildQemuCommand(s, QemuConfig{}).ok());
  s.disks = {{"", "", "raw"}};
  EXPECT_FALSE(BuildQemuCommand(s, QemuConfig{}).ok());
  QemuConfig t;
  t.template_args = {"{binary}", "{mystery}"};
  EXPECT_FALSE(BuildQemuCommand(TwoDiskSpec("/tmp"), t).ok());
}

TEST(Launchers, RegistryByName) {
  LauncherRegistry r = LauncherRegistry::WithBuiltins();
  EXPECT_EQ(r.Names(), (std::vector<std::string>{"command", "qemu"}));
  auto missing = r.Create("libvirt", Json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("known: command, qemu"), std::string::npos);
  EXPECT_FALSE(r.Create("command", Json::object()).ok());
  EXPECT_FALSE(r.Create("command", Json{{"command", "x"}, {"env", {{"LIFELINE_X", "1"}}}}).ok());
}

TEST(CommandLauncher, RecordsItsEnvironment) {
  TempDir dir;
  std::string script = dir.File("start.sh");
  WriteFile(
      script,
      "#!/bin/sh\nenv | grep -E '^(LIFELINE_|SITE=)' | sort > \"$PWD/env.txt\"\necho started\n",
      true);
  LauncherRegistry r = LauncherRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(auto launcher,
                       r.Create("command", Json{{"command", {script}}, {"env", {{"SITE", "dr"}}}}));
  ASSERT_OK_AND_ASSIGN(LaunchHandle h, launcher->Start(TwoDiskSpec(dir.path())));
  EXPECT_GT(h.pid, 0);
  LaunchStatus st;
  ASSERT_TRUE(WaitExit(*launcher, h, 5000, &st));
  EXPECT_EQ(st.exit_code, 0);
  std::string env = ReadFile(dir.File("env.txt"));
  for (const char* line :
       {"LIFELINE_MACHINE=web1", "LIFELINE_OPERATION=drill", "LIFELINE_CPUS=2",
        "LIFELINE_MEMORY_MIB=1024", "LIFELINE_DISK_COUNT=2",
        "LIFELINE_DISK_0=nbd://127.0.0.1:10809/web1-disk0",
        "LIFELINE_DISK_0_URL=nbd://127.0.0.1:10809/web1-disk0",
        "LIFELINE_DISK_1=/var/lib/lifeline/web,1.img",
        "LIFELINE_DISK_1_PATH=/var/lib/lifeline/web,1.img", "LIFELINE_NIC_COUNT=1",
        "LIFELINE_NIC_0_IP=10.1.0.5", "LIFELINE_NIC_0_PREFIX=24",
        "LIFELINE_NIC_0_NETWORK=lan-drill", "LIFELINE_NIC_0_GATEWAY=10.1.0.1",
        "LIFELINE_NIC_0_MAC=52:54:00:12:34:56", "SITE=dr"}) {
    EXPECT_NE(env.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << env;
  }
  EXPECT_NE(ReadFile(h.log_path).find("started"), std::string::npos);
}

TEST(CommandLauncher, StopEndsALongRunningMachine) {
  TempDir dir;
  LauncherRegistry r = LauncherRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(auto launcher, r.Create("command", Json{{"command", "sleep 60 & wait"}}));
  ASSERT_OK_AND_ASSIGN(LaunchHandle h, launcher->Start(TwoDiskSpec(dir.path())));
  ASSERT_OK_AND_ASSIGN(LaunchStatus running, launcher->GetStatus(h));
  EXPECT_TRUE(running.running);
  ASSERT_OK(launcher->Stop(h, 2000));
  ASSERT_OK_AND_ASSIGN(LaunchStatus after, launcher->GetStatus(h));
  EXPECT_FALSE(after.running);
}

TEST(QemuLauncher, StartsAndStopsARealQemu) {
  TempDir dir;
  LauncherRegistry r = LauncherRegistry::WithBuiltins();
  // No guest to boot: -S holds the CPU, so this checks the launcher, not a kernel.
  ASSERT_OK_AND_ASSIGN(
      auto launcher,
      r.Create("qemu", Json{{"template",
                             {"{binary}", "-accel", "{accel}", "-nodefaults", "-display", "none",
                              "-S", "-m", "{memory_mib}", "{drives}", "{nics}"}}}));
  LaunchSpec s = TwoDiskSpec(dir.path());
  std::string image = dir.File("disk.img");
  WriteFile(image, std::string(1 << 20, '\0'));
  s.disks = {{"", image, "raw"}};
  s.memory_mib = 64;
  ASSERT_OK_AND_ASSIGN(LaunchHandle h, launcher->Start(s));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_OK_AND_ASSIGN(LaunchStatus st, launcher->GetStatus(h));
  EXPECT_TRUE(st.running) << "qemu exited early: " << ReadFile(h.log_path);
  ASSERT_OK(launcher->Stop(h, 3000));
  ASSERT_OK_AND_ASSIGN(LaunchStatus after, launcher->GetStatus(h));
  EXPECT_FALSE(after.running);
}

}  // namespace
}  // namespace lifeline::control
