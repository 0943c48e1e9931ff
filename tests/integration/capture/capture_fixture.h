// Test fixture for nbd-mode capture: a vault ReplicationService over a replica store and an
// agent NbdCapture + DiskSender in one process, over TLS on loopback; real NBD clients
// write through the agent's URL. Thread-compatible.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../../unit/wire/test_pki.h"
#include "../nbd/nbd_server_process.h"
#include "agent/nbd_capture.h"
#include "common/fs.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"

namespace lifeline::capture_testing {

using nbd::testing::CommandResult;
using nbd::testing::RequireTool;
using nbd::testing::Shell;

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class CaptureFixture : public ::testing::Test {
 protected:
  static constexpr uint64_t kDisk = 64u << 20;

  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (std::filesystem::temp_directory_path() /
            ("ll-capture-" + std::to_string(::getpid()) + "-" + info->name())).string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    image_ = dir_ + "/disk.img";
    ASSERT_EQ(Shell("truncate -s " + std::to_string(kDisk) + " " + image_).exit_code, 0);
    pki_ = wire::testing::MakeTestPki("agent-1");
    store_ = std::move(store::ReplicaStore::Open(dir_ + "/store", {})).value();
    ASSERT_TRUE(store_->CreateDisk("web-os", kDisk).ok());
    StartVault(0);
  }
  void TearDown() override {
    capture_.reset();
    sender_.reset();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartVault(uint16_t port) {
    vault::ReplicationOptions opts;
    opts.server.port = port;
    auto svc = vault::ReplicationService::Start(
        opts, wire::testing::ServerContext(pki_),
        [this](const std::string& agent, const wire::Hello& h) -> Result<store::DiskReplica*> {
          if (agent != "agent-1") return Status::Unauthenticated("unknown agent");
          return store_->Disk(h.disk_id);
        });
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    service_ = std::move(svc).value();
    port_ = service_->port();
  }
  agent::SenderOptions SenderOpts() {
    agent::SenderOptions o;
    o.vaults = {{"127.0.0.1", port_}};
    o.tls = wire::testing::ClientContext(pki_.ca, pki_.client);
    o.agent_id = "agent-1";
    o.machine = "web";
    o.disk_id = "web-os";
    o.disk_size_bytes = kDisk;
    o.streams = 4;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 300;
    return o;
  }
  agent::NbdCaptureOptions CaptureOpts() {
    agent::NbdCaptureOptions o;
    o.disk_path = image_;
    o.state_dir = dir_ + "/agent-state";
    o.point_interval_ms = 0;
    return o;
  }
  // Starts sender + capture (numbering from the vault's durable seq + 1).
  void StartAgent(agent::NbdCaptureOptions co, agent::SenderOptions so) {
    sender_ = std::make_unique<agent::DiskSender>(so);
    auto durable = sender_->Start(10000);
    ASSERT_TRUE(durable.ok()) << durable.status().ToString();
    capture_ = std::make_unique<agent::NbdCapture>(co, sender_.get());
    Status s = capture_->Start(*durable + 1);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void StartAgent() { StartAgent(CaptureOpts(), SenderOpts()); }
  store::DiskReplica* Replica() { return *store_->Disk("web-os"); }
  CommandResult Ok(const std::string& cmd) {
    CommandResult r = Shell(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
    return r;
  }
  // Waits for the vault to hold everything written, then compares the replica's newest
  // state with the image byte for byte.
  void ExpectReplicaEqualsImage() {
    Status s = capture_->WaitCaughtUp(60000);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::string out = dir_ + "/restored.img";
    std::filesystem::remove(out);
    ASSERT_TRUE(Replica()->Materialize(Replica()->durable_seq(), out).ok());
    std::string a = ReadAll(out), b = ReadAll(image_);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(a == b) << "replica differs from the image";
  }

  std::string dir_, image_;
  wire::testing::TestPki pki_;
  std::unique_ptr<store::ReplicaStore> store_;
  std::unique_ptr<vault::ReplicationService> service_;
  uint16_t port_ = 0;
  std::unique_ptr<agent::DiskSender> sender_;
  std::unique_ptr<agent::NbdCapture> capture_;
};

}  // namespace lifeline::capture_testing
