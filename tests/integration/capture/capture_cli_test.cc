// `lifeline machine protect NAME --disk PATH --mode nbd` end to end with real processes:
// vault init/run, agent register/run, protect, `machine status` showing the NBD URL, a
// client writing through it, and the vault's replica compared with the image.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "capture_fixture.h"
#include "raw_nbd_client.h"

namespace lifeline {
namespace {

using namespace capture_testing;
using json = nlohmann::json;

uint16_t FreePort() {
  CommandResult r = Shell("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'");
  return uint16_t(std::atoi(r.output.c_str()));
}

class Daemon {
 public:
  ~Daemon() { Stop(); }
  void Start(const std::vector<std::string>& args, const std::string& log, const std::string& env_token) {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      if (!env_token.empty()) ::setenv("LIFELINE_TOKEN", env_token.c_str(), 1);
      std::vector<std::string> a = {LIFELINE_BINARY};
      a.insert(a.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  // SIGKILL: no clean shutdown (a crash of the daemon).
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

TEST(CaptureCliTest, ProtectModeNbdServesTheDiskAndReplicatesIt) {
  for (const char* tool : {"qemu-io", "python3"}) RequireTool(tool);
  std::string dir = (std::filesystem::temp_directory_path() / ("ll-capture-cli-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string bin = LIFELINE_BINARY;
  CommandResult init = Shell(bin + " vault init --dir " + dir + "/v --json");
  ASSERT_EQ(init.exit_code, 0) << init.output;
  json ij = json::parse(init.output.substr(init.output.find('{')));
  std::string token = ij["admin_token"], key = ij["registration_key"];
  uint16_t repl = FreePort(), api = FreePort(), nbd_port = FreePort();
  Daemon vault, agent;
  vault.Start({"vault", "run", "--dir", dir + "/v", "--listen", "127.0.0.1:" + std::to_string(repl), "--api",
               "127.0.0.1:" + std::to_string(api)},
              dir + "/vault.log", "");
  std::string api_url = "https://127.0.0.1:" + std::to_string(api);
  CommandResult reg;
  for (int i = 0; i < 50; ++i) {
    reg = Shell(bin + " agent register --vault " + api_url + " --ca " + dir + "/v/pki/ca.crt --key " + key +
                " --name host1 --dir " + dir + "/a");
    if (reg.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  agent.Start({"agent", "run", "--dir", dir + "/a"}, dir + "/agent.log", "");
  std::string img = dir + "/disk.img";
  ASSERT_EQ(Shell("truncate -s 32M " + img + " && head -c 4M /dev/urandom | dd of=" + img + " conv=notrunc status=none").exit_code, 0);
  std::string client = " --vault-dir " + dir + "/v --token " + token;
  CommandResult bad = Shell(bin + " machine protect web --disk " + img + " --agent host1 --mode mirror" + client);
  EXPECT_NE(bad.exit_code, 0) << "an unknown mode is refused";
  CommandResult prot = Shell(bin + " machine protect web --disk " + img + " --agent host1 --mode nbd --nbd-listen 127.0.0.1:" +
                             std::to_string(nbd_port) + " --point-interval 1" + client);
  ASSERT_EQ(prot.exit_code, 0) << prot.output;
  std::string url = "nbd://127.0.0.1:" + std::to_string(nbd_port);
  // The status shows the URL once the agent serves the disk.
  CommandResult st;
  for (int i = 0; i < 100; ++i) {
    st = Shell(bin + " machine status web" + client);
    if (st.output.find(url) != std::string::npos && st.output.find("up to date") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_NE(st.output.find("nbd " + url), std::string::npos) << st.output;
  CommandResult w = Shell("qemu-io -f raw -c 'write -P 0x5c 8M 2M' -c 'write -z 1M 1M' -c flush " + url);
  ASSERT_EQ(w.exit_code, 0) << w.output;
  json disk;
  for (int i = 0; i < 100; ++i) {
    CommandResult sj = Shell(bin + " machine status web --json" + client);
    json m = json::parse(sj.output.substr(sj.output.find('{')), nullptr, false);
    if (m.is_object()) disk = m["disks"][0];
    if (disk.is_object() && disk.contains("agent") && disk["agent"].value("acked_seq", 0) >= disk["agent"].value("last_seq", 1) &&
        disk["agent"].value("last_seq", 0) > 0 && disk["agent"].value("points", 0) >= 2)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(disk.is_object());
  EXPECT_EQ(disk["agent"].value("nbd_url", ""), url);
  EXPECT_EQ(disk["agent"].value("mode", ""), "nbd");
  EXPECT_EQ(disk["agent"].value("capture_state", ""), "streaming");
  EXPECT_TRUE(disk["agent"].value("initial_complete", false));
  agent.Stop();
  vault.Stop();
  // The replica (newest durable state) equals the image.
  auto store = std::move(store::ReplicaStore::Open(dir + "/v/store", {})).value();
  auto* replica = *store->Disk("web-disk0");
  ASSERT_TRUE(replica->Materialize(replica->durable_seq(), dir + "/restored.img").ok());
  EXPECT_TRUE(ReadAll(dir + "/restored.img") == ReadAll(img)) << "replica differs from the image";
  std::filesystem::remove_all(dir);
}


// A vault and agents as real processes, driven through the CLI.
class CliSite {
 public:
  explicit CliSite(const std::string& name) {
    dir_ = (std::filesystem::temp_directory_path() / ("ll-capture-cli-" + name + "-" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~CliSite() {
    for (auto& [n, a] : agents_) a->Stop();
    vault_.Stop();
    std::filesystem::remove_all(dir_);
  }
  void StartVault() {
    CommandResult init = Shell(bin_ + " vault init --dir " + dir_ + "/v --json");
    ASSERT_EQ(init.exit_code, 0) << init.output;
    json ij = json::parse(init.output.substr(init.output.find('{')));
    token_ = ij["admin_token"];
    key_ = ij["registration_key"];
    uint16_t repl = FreePort(), api = FreePort();
    vault_.Start({"vault", "run", "--dir", dir_ + "/v", "--listen", "127.0.0.1:" + std::to_string(repl), "--api",
                  "127.0.0.1:" + std::to_string(api)},
                 dir_ + "/vault.log", "");
    api_url_ = "https://127.0.0.1:" + std::to_string(api);
  }
  // Registers and starts agent `name`.
  void StartAgent(const std::string& name, bool register_it = true) {
    if (register_it) {
      std::string key = key_;
      if (!agents_.empty()) {
        CommandResult k = Cli("vault key");
        ASSERT_EQ(k.exit_code, 0) << k.output;
        key = k.output.substr(0, k.output.find('\n'));
      }
      CommandResult reg;
      for (int i = 0; i < 50; ++i) {
        reg = Shell(bin_ + " agent register --vault " + api_url_ + " --ca " + dir_ + "/v/pki/ca.crt --key " + key +
                    " --name " + name + " --dir " + dir_ + "/" + name);
        if (reg.exit_code == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ASSERT_EQ(reg.exit_code, 0) << reg.output;
    }
    auto& a = agents_[name];
    if (!a) a = std::make_unique<Daemon>();
    a->Start({"agent", "run", "--dir", dir_ + "/" + name}, dir_ + "/" + name + ".log", "");
  }
  Daemon& agent(const std::string& name) { return *agents_.at(name); }
  CommandResult Cli(const std::string& args) {
    return Shell(bin_ + " " + args + " --vault-dir " + dir_ + "/v --token " + token_);
  }
  json CliJson(const std::string& args) {
    CommandResult r = Cli(args + " --json");
    size_t p = r.output.find_first_of("{[");
    return p == std::string::npos ? json() : json::parse(r.output.substr(p), nullptr, false);
  }
  // Waits until `pred` holds for the machine's status JSON.
  json WaitMachine(const std::string& machine, const std::function<bool(const json&)>& pred, int seconds = 30) {
    json m;
    for (int i = 0; i < seconds * 10; ++i) {
      m = CliJson("machine status " + machine);
      if (m.is_object() && pred(m)) return m;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "machine " << machine << " never reached the state; last status " << m.dump();
    return m;
  }
  std::string dir() const { return dir_; }
  Daemon& vault() { return vault_; }
  // DIR/disk.img of `size` (truncate syntax) with `data_bytes` of random data at its start.
  std::string MakeDisk(const std::string& size, uint64_t data_bytes) {
    std::string img = dir_ + "/disk.img";
    EXPECT_EQ(
        Shell("truncate -s " + size + " " + img + " && head -c " + std::to_string(data_bytes) +
              " /dev/urandom | dd of=" + img + " conv=notrunc status=none")
            .exit_code,
        0);
    return img;
  }
  // Stops every daemon, then compares the newest state of the vault's replica of `disk_id`
  // with `image` byte for byte.
  void ExpectReplicaEquals(const std::string& disk_id, const std::string& image) {
    for (auto& [n, a] : agents_) a->Stop();
    vault_.Stop();
    auto store = std::move(store::ReplicaStore::Open(dir_ + "/v/store", {})).value();
    auto* replica = *store->Disk(disk_id);
    ASSERT_TRUE(replica->Materialize(replica->durable_seq(), dir_ + "/restored.img").ok());
    EXPECT_TRUE(ReadAll(dir_ + "/restored.img") == ReadAll(image))
        << "replica differs from the image";
  }

 private:
  std::string bin_ = LIFELINE_BINARY;
  std::string dir_, token_, key_, api_url_;
  Daemon vault_;
  std::map<std::string, std::unique_ptr<Daemon>> agents_;
};

json Agent(const json& machine) {
  const json& d = machine["disks"][0];
  return d.contains("agent") ? d["agent"] : json::object();
}

// The agent finished its first copy (or resync) and is idle.
bool CopyDone(const json& machine) {
  return Agent(machine).value("initial_complete", false) && Agent(machine).value("phase", "") == "idle";
}

// The initial copy of a disk in nbd mode survives a SIGKILL of the agent: the restarted
// agent sends only what the vault had not acknowledged. The vault's byte count proves it.
TEST(CaptureCliTest, InitialCopyResumesAfterAnAgentCrash) {
  for (const char* tool : {"python3"}) RequireTool(tool);
  CliSite site("resume");
  site.StartVault();
  site.StartAgent("host1");
  constexpr uint64_t kData = 48u << 20;
  std::string img = site.MakeDisk("96M", kData);
  ASSERT_EQ(site.Cli("policy set slow --bandwidth 12M").exit_code, 0);
  CommandResult prot = site.Cli("machine protect web --disk " + img + " --agent host1 --policy slow --mode nbd");
  ASSERT_EQ(prot.exit_code, 0) << prot.output;
  // The vault shows the mode from its catalog before the agent reports anything.
  json m = site.CliJson("machine status web");
  EXPECT_EQ(m["capture"].value("mode", ""), "nbd") << m.dump();
  // Kill the agent half way through the copy.
  site.WaitMachine("web", [](const json& m) {
    return m["disks"][0].value("bytes_received", uint64_t(0)) >= kData * 2 / 5;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // let a bitmap persist cover the acks
  site.agent("host1").Kill();
  uint64_t before = site.CliJson("machine status web")["disks"][0].value("bytes_received", uint64_t(0));
  EXPECT_LT(before, kData) << "the copy finished before the crash: the test proves nothing";
  site.StartAgent("host1", /*register_it=*/false);
  json done = site.WaitMachine("web", CopyDone, 60);
  uint64_t total = done["disks"][0].value("bytes_received", uint64_t(0));
  std::printf("initial copy of %llu MiB: %llu MiB before the crash, %llu MiB in all (%.2fx the data)\n",
              (unsigned long long)(kData >> 20), (unsigned long long)(before >> 20),
              (unsigned long long)(total >> 20), double(total) / double(kData));
  EXPECT_LT(double(total), 1.25 * double(kData)) << "the restarted copy resent acknowledged ranges";
  EXPECT_GE(total, kData);
  site.ExpectReplicaEquals("web-disk0", img);
}

// An nbd-mode agent that lost its state while the vault kept the replica (here its state
// directory deleted, after ~1% of the disk's blocks were written behind its back, as a
// failback would) compares block hashes with the replica and sends only what differs.
TEST(CaptureCliTest, LostStateResyncsByBlockHashes) {
  for (const char* tool : {"python3"}) RequireTool(tool);
  CliSite site("hashresync");
  site.StartVault();
  site.StartAgent("host1");
  constexpr uint64_t kDiskBytes = 64u << 20, kBlock = 64u << 10;
  std::string img = site.MakeDisk("64M", 8u << 20);
  CommandResult prot = site.Cli("machine protect web --disk " + img +
                                " --agent host1 --mode nbd --point-interval 1");
  ASSERT_EQ(prot.exit_code, 0) << prot.output;
  site.WaitMachine("web", CopyDone, 60);
  site.agent("host1").Stop();
  uint64_t before =
      site.CliJson("machine status web")["disks"][0].value("bytes_received", uint64_t(0));
  // 10 of 1024 blocks, in data and in the hole, written outside the agent.
  std::string cmd;
  for (int i = 0; i < 10; ++i)
    cmd += "head -c 65536 /dev/urandom | dd of=" + img +
           " bs=65536 seek=" + std::to_string(7 + i * 101) + " conv=notrunc status=none && ";
  ASSERT_EQ(Shell(cmd + "true").exit_code, 0);
  std::filesystem::remove_all(site.dir() + "/host1/disks/web-disk0");
  site.StartAgent("host1", /*register_it=*/false);
  json done = site.WaitMachine(
      "web",
      [](const json& m) { return CopyDone(m) && Agent(m).contains("sync") && !Agent(m)["sync"].empty(); },
      60);
  json sync = Agent(done).value("sync", json::object());
  uint64_t sent = done["disks"][0].value("bytes_received", uint64_t(0)) - before;
  std::printf(
      "resync by hashes: %llu of %llu blocks differed, %llu bytes of data read, %llu bytes "
      "received by the "
      "vault (%.2f%% of the %llu MiB disk)\n",
      (unsigned long long)sync.value("blocks_changed", uint64_t(0)),
      (unsigned long long)sync.value("blocks_compared", uint64_t(0)),
      (unsigned long long)sync.value("bytes_sent", uint64_t(0)), (unsigned long long)sent,
      100.0 * double(sent) / double(kDiskBytes), (unsigned long long)(kDiskBytes >> 20));
  EXPECT_EQ(sync.value("phase", ""), "resync");
  EXPECT_EQ(sync.value("blocks_compared", uint64_t(0)), kDiskBytes / kBlock);
  EXPECT_EQ(sync.value("blocks_changed", uint64_t(0)), 10u);
  EXPECT_LE(sent, kDiskBytes * 3 / 100) << "the resync sent more than the changed blocks";
  EXPECT_GE(sent, 10 * kBlock);
  CommandResult text = site.Cli("machine status web");
  EXPECT_NE(text.output.find("first sync: resync, 10 blocks"), std::string::npos) << text.output;
  site.ExpectReplicaEquals("web-disk0", img);
}

// A planned failover of an nbd-mode machine asks the agent to drain: the agent fences the
// export (writes, trims and zeroes get EPERM), sends what is queued and reports the seq of
// its final point; the vault fails over at exactly that seq. A writer keeps writing through
// the export until the fence: every write the NBD server acknowledged is in the failed-over
// disk (byte compare of the whole disk), the first refused one is not. A cancel lifts the fence.
TEST(CaptureCliTest, PlannedFailoverFencesTheNbdExportAndKeepsEveryAcknowledgedWrite) {
  for (const char* tool : {"python3"}) RequireTool(tool);
  CliSite site("drain");
  site.StartVault();
  site.StartAgent("host1");
  constexpr uint64_t kDiskBytes = 16u << 20;
  std::string img = site.MakeDisk("16M", 2u << 20);
  const uint16_t port = FreePort();
  CommandResult prot =
      site.Cli("machine protect web --disk " + img +
               " --agent host1 --mode nbd --nbd-listen 127.0.0.1:" + std::to_string(port) +
               " --point-interval 1");
  ASSERT_EQ(prot.exit_code, 0) << prot.output;
  site.WaitMachine("web", [](const json& m) {
    return m.value("state", "") == "protected" && Agent(m).value("phase", "") == "idle";
  });
  // The disk as the machine knows it: the image, then every acknowledged write.
  std::string expected = ReadAll(img);
  ASSERT_EQ(expected.size(), kDiskBytes);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  Status refused;
  std::thread writer([&] {
    RawNbdClient c;
    if (!c.Connect(port).ok()) return;
    for (uint64_t i = 0; !stop; ++i) {
      const uint64_t offset = (i * 7 * 4096) % kDiskBytes;
      std::string data(4096, char('A' + i % 26));
      std::memcpy(data.data(), &i, sizeof i);
      Status s = c.Write(offset, data);
      if (!s.ok()) {
        refused = s;
        return;
      }
      expected.replace(offset, data.size(), data);  // acknowledged: the machine counts on it
      acked++;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto t0 = std::chrono::steady_clock::now();
  json fo = site.CliJson("failover start web --planned --materialize --no-launch");
  const double drain_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  writer.join();
  ASSERT_TRUE(fo.contains("failover") && fo["failover"].is_object()) << fo.dump();
  EXPECT_EQ(refused.message(), "NBD error 1")
      << "the writer must be stopped by EPERM, got: " << refused.ToString();
  EXPECT_GT(acked.load(), 100u);
  // A new client is refused as well, for every kind of change.
  RawNbdClient late;
  ASSERT_TRUE(late.Connect(port).ok());
  EXPECT_EQ(late.Write(0, std::string(4096, 'x')).message(), "NBD error 1");
  EXPECT_EQ(late.Trim(0, 4096).message(), "NBD error 1");
  EXPECT_EQ(late.WriteZeroes(0, 4096).message(), "NBD error 1");
  // The failover is at the seq the agent drained at, and holds every acknowledged write.
  const json disk = fo["failover"]["disks"][0];
  json m = site.CliJson("machine status web");
  EXPECT_EQ(m.value("state", ""), "failed-over");
  const json drain = Agent(m).value("drain", json());
  ASSERT_TRUE(drain.is_object()) << Agent(m).dump();
  EXPECT_EQ(drain.value("state", ""), "drained");
  EXPECT_EQ(disk.value("seq", uint64_t(0)), drain.value("seq", uint64_t(1)));
  EXPECT_TRUE(ReadAll(disk.value("image", "")) == expected)
      << "the failed-over disk lacks an acknowledged write";
  std::printf(
      "planned failover: %llu writes acknowledged until the fence, drained at seq %llu, failover "
      "in %.2f s\n",
      (unsigned long long)acked.load(), (unsigned long long)drain.value("seq", uint64_t(0)),
      drain_s);
  // Cancelled: the fence lifts and the source takes writes again.
  ASSERT_EQ(site.Cli("failover cancel web").exit_code, 0);
  bool written = false;
  for (int i = 0; i < 100 && !written; ++i) {
    RawNbdClient again;
    written = again.Connect(port).ok() && again.Write(0, std::string(4096, 'y')).ok();
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(written) << "the fence was not lifted after the cancel";
}

// A consistency group of two machines on two agents (two processes): `group create`,
// `group point`, scheduled points, `group points`, and `machine status` naming the group.
TEST(CaptureCliTest, GroupOfMachinesOnTwoAgents) {
  for (const char* tool : {"qemu-io", "python3"}) RequireTool(tool);
  CliSite site("group");
  site.StartVault();
  site.StartAgent("host1");
  site.StartAgent("host2");
  std::map<std::string, uint16_t> ports;
  for (const std::string host : {"host1", "host2"}) {
    std::string machine = host == "host1" ? "db" : "app";
    std::string img = site.dir() + "/" + machine + ".img";
    ASSERT_EQ(Shell("truncate -s 16M " + img).exit_code, 0);
    ports[machine] = FreePort();
    CommandResult prot = site.Cli("machine protect " + machine + " --disk " + img + " --agent " + host +
                                  " --mode nbd --nbd-listen 127.0.0.1:" + std::to_string(ports[machine]));
    ASSERT_EQ(prot.exit_code, 0) << prot.output;
  }
  CommandResult scan = site.Cli("machine protect files --disk " + site.dir() + "/db.img --agent host1");
  ASSERT_EQ(scan.exit_code, 0) << scan.output;
  for (const char* machine : {"db", "app"})
    site.WaitMachine(machine, [](const json& m) { return Agent(m).value("initial_complete", false); });
  for (const auto& [machine, port] : ports)
    ASSERT_EQ(Shell("qemu-io -f raw -c 'write -P 0x11 0 64k' nbd://127.0.0.1:" + std::to_string(port)).exit_code, 0);
  // A scan-mode machine cannot join a group.
  CommandResult bad = site.Cli("group create g0 --machine db --machine files");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  CommandResult create = site.Cli("group create g1 --machine db --machine app --interval 1s");
  ASSERT_EQ(create.exit_code, 0) << create.output;
  json point = site.CliJson("group point g1 --label before-upgrade");
  ASSERT_TRUE(point.is_object()) << point.dump();
  ASSERT_EQ(point["members"].size(), 2u) << point.dump();
  for (const auto& mbr : point["members"]) EXPECT_LE(mbr.value("held_us", int64_t(1) << 40), 50'000);
  // Scheduled points follow (every second).
  json points;
  for (int i = 0; i < 100; ++i) {
    points = site.CliJson("group points g1");
    if (points.is_array() && points.size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(points.is_array());
  EXPECT_GE(points.size(), 3u) << points.dump();
  json status = site.CliJson("machine status db");
  EXPECT_EQ(status.value("group", ""), "g1");
  CommandResult human = site.Cli("machine status app");
  EXPECT_NE(human.output.find("mode nbd"), std::string::npos) << human.output;
  EXPECT_NE(human.output.find("group g1"), std::string::npos) << human.output;
  // Unplanned failover to the latest group point: the chosen point is one of the group's, and
  // a machine outside any group is refused.
  CommandResult nogroup = site.Cli("failover start files --latest-group --launcher-command 'exec sleep 60'");
  EXPECT_NE(nogroup.exit_code, 0) << nogroup.output;
  EXPECT_NE(nogroup.output.find("no latest-group recovery point"), std::string::npos) << nogroup.output;
  json fo = site.CliJson("failover start db --latest-group --launcher-command 'exec sleep 60'");
  ASSERT_TRUE(fo.contains("failover")) << fo.dump();
  const json chosen = fo["failover"]["disks"][0];
  EXPECT_EQ(chosen.value("point", "").rfind("latest-group: point", 0), 0u) << chosen.dump();
  bool in_group = false;
  for (const auto& p : site.CliJson("point list db"))
    if (p.value("id", uint64_t(0)) == chosen.value("point_id", uint64_t(1)))
      in_group = p.value("group_point_id", uint64_t(0)) != 0;
  EXPECT_TRUE(in_group) << chosen.dump();
  EXPECT_EQ(site.CliJson("machine status db").value("state", ""), "failed-over");
  CommandResult cancel = site.Cli("failover cancel db");
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  // With one agent down the group point is aborted cleanly (exit code, no partial point).
  site.agent("host2").Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CommandResult down = site.Cli("group point g1");
  EXPECT_NE(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("aborted"), std::string::npos) << down.output;
}

}  // namespace
}  // namespace lifeline
