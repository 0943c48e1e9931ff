// capture_serve: serves a disk image through the nbd-mode capture agent for benchmarks.
// Usage: capture_serve IMAGE PORT [--replicate STORE_DIR] [--codec none|lz4|zstd] [--nice N] [--vault-nice N] [--spill-mib N] [--state-dir DIR] [--insecure] [--coalesce-us N]
// With --replicate, an in-process vault (replication service + replica store in STORE_DIR)
// receives the stream over TLS on loopback, as a local vault would (plain TCP with
// --insecure, as `vault run --insecure`: to measure what TLS costs). Prints the NBD URL on
// stdout, then every second a status line on stderr; on SIGTERM/SIGINT prints a summary
// (max replication lag, seqs) on stdout and exits. Single-threaded control; not a library.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agent/nbd_capture.h"
#include "common/log.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"
#include "../tests/unit/wire/test_pki.h"

using namespace lifeline;

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: capture_serve IMAGE PORT [--replicate STORE_DIR] [--codec none|lz4|zstd] [--nice N] [--vault-nice N] [--spill-mib N] [--state-dir DIR] [--insecure] [--coalesce-us N]\n");
    return 2;
  }
  log::SetLevelFromEnv(log::Level::kWarn);
  std::string image = argv[1];
  uint16_t port = uint16_t(std::atoi(argv[2]));
  std::string store_dir;
  Codec codec = Codec::kNone;
  int nice = agent::kReplicationNice;  // the agent's replication threads, as the daemon
  int vault_nice = 0;                  // the vault's, as `vault run`
  uint64_t spill_mib = 1024;  // as the agent daemon
  std::string state_dir;      // the agent's (spill file, bitmap); default STORE_DIR-agent
  bool insecure = false;
  int64_t coalesce_us = agent::SenderOptions{}.connect.connection.coalesce_us;  // as the agent
  for (int i = 3; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--insecure")) {
      insecure = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) break;
    if (!std::strcmp(argv[i], "--replicate")) store_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--nice")) nice = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--vault-nice")) vault_nice = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--state-dir")) state_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--spill-mib")) spill_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--coalesce-us")) coalesce_us = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--codec")) codec = ParseCodec(argv[i + 1]).ok() ? *ParseCodec(argv[i + 1]) : Codec::kNone;
  }
  ::signal(SIGTERM, OnSignal);
  ::signal(SIGINT, OnSignal);
  FILE* f = std::fopen(image.c_str(), "rb");
  if (!f) {
    std::perror(image.c_str());
    return 1;
  }
  std::fseek(f, 0, SEEK_END);
  uint64_t size = uint64_t(std::ftell(f));
  std::fclose(f);

  std::unique_ptr<store::ReplicaStore> store;
  std::unique_ptr<vault::ReplicationService> service;
  std::unique_ptr<agent::DiskSender> sender;
  uint64_t first_seq = 1;
  wire::testing::TestPki pki;
  if (!store_dir.empty()) {
    pki = wire::testing::MakeTestPki("agent-1");
    store = std::move(store::ReplicaStore::Open(store_dir, {})).value();
    if (!store->Disk("bench").ok() && !store->CreateDisk("bench", size).ok()) return 1;
    vault::ReplicationOptions ro;
    ro.server.connection.cpu_nice = vault_nice;
    auto svc = vault::ReplicationService::Start(ro, insecure ? nullptr : wire::testing::ServerContext(pki),
                                                [&](const std::string&, const wire::Hello& h) { return store->Disk(h.disk_id); });
    if (!svc.ok()) {
      std::fprintf(stderr, "vault: %s\n", svc.status().ToString().c_str());
      return 1;
    }
    service = std::move(svc).value();
    agent::SenderOptions so;
    so.vaults = {{"127.0.0.1", service->port()}};
    if (!insecure) so.tls = wire::testing::ClientContext(pki.ca, pki.client);
    so.agent_id = "agent-1";
    so.machine = "bench";
    so.disk_id = "bench";
    so.disk_size_bytes = size;
    so.codec = codec;
    so.connect.connection.cpu_nice = nice;
    so.connect.connection.coalesce_us = coalesce_us;
    sender = std::make_unique<agent::DiskSender>(so);
    auto durable = sender->Start(10000);
    if (!durable.ok()) {
      std::fprintf(stderr, "sender: %s\n", durable.status().ToString().c_str());
      return 1;
    }
    first_seq = *durable + 1;
  }
  agent::NbdCaptureOptions o;
  o.disk_path = image;
  o.listen_port = port;
  o.state_dir = store_dir.empty() ? "" : state_dir.empty() ? store_dir + "-agent" : state_dir;
  o.point_interval_ms = 5000;
  o.replication_nice = nice;
  o.queue.max_spill_bytes = spill_mib << 20;
  agent::NbdCapture capture(o, sender.get());
  // The benchmark image is written before the run: count it as replicated, as after an
  // initial copy, so the run measures continuous capture only.
  if (!o.state_dir.empty()) {
    std::filesystem::create_directories(o.state_dir);
    FILE* s = std::fopen((o.state_dir + "/capture.state").c_str(), "w");
    if (s) {
      std::fputs("initial_complete=1\n", s);
      std::fclose(s);
    }
  }
  Status s = capture.Start(first_seq);
  if (!s.ok()) {
    std::fprintf(stderr, "capture: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", capture.url().c_str());
  std::fflush(stdout);
  int64_t max_lag_ms = 0;
  std::vector<int64_t> lag_samples;  // one per 100 ms
  auto last_print = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = capture.stats();
    max_lag_ms = std::max(max_lag_ms, st.lag_ms);
    lag_samples.push_back(st.lag_ms);
    if (std::chrono::steady_clock::now() - last_print >= std::chrono::seconds(1)) {
      last_print = std::chrono::steady_clock::now();
      std::fprintf(stderr, "last_seq %lu acked %lu lag_ms %ld memory %lu spill %lu state %s\n",
                   (unsigned long)st.queue.last_seq, (unsigned long)st.acked_seq, (long)st.lag_ms,
                   (unsigned long)st.queue.memory_bytes, (unsigned long)st.queue.spill_bytes,
                   agent::CaptureStateName(st.queue.state));
    }
  }
  auto st = capture.stats();
  std::sort(lag_samples.begin(), lag_samples.end());
  auto pct = [&](double q) -> long {
    return lag_samples.empty() ? 0 : long(lag_samples[size_t(q * double(lag_samples.size() - 1))]);
  };
  std::printf("max_lag_ms %ld p50_lag_ms %ld p99_lag_ms %ld last_seq %lu acked_seq %lu state %s bitmap_entries %lu\n",
              (long)max_lag_ms, pct(0.50), pct(0.99),
              (unsigned long)st.queue.last_seq, (unsigned long)st.acked_seq, agent::CaptureStateName(st.queue.state),
              (unsigned long)st.queue.bitmap_entries);
  std::fflush(stdout);
  capture.Stop();
  return 0;
}
