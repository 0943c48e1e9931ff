// Replication benchmark: a vault ReplicationService writing to a replica store and an agent
// (DiskSender + ScanCapture) reading an image, over TLS 1.3 on loopback in one process.
// Measures the initial replication, then a scan-mode delta after `changed_percent` of the
// 64 KiB blocks changed, and prints MB/s and CPU seconds per GB.
// usage: replication_bench IMAGE WORK_DIR [streams=4] [codec=none] [changed_percent=1]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "agent/scan_capture.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"
#include "wire/pki.h"
#include "wire/tls.h"

using namespace lifeline;

static double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: replication_bench IMAGE WORK_DIR [streams] [codec] [changed_percent]\n");
    return 2;
  }
  std::string image = argv[1], work = argv[2];
  int streams = argc > 3 ? std::atoi(argv[3]) : 4;
  auto codec = ParseCodec(argc > 4 ? argv[4] : "none");
  double changed = argc > 5 ? std::atof(argv[5]) : 1.0;
  if (!codec.ok()) return 2;
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  uint64_t size = std::filesystem::file_size(image);
  auto ca = *wire::CreateCa("bench-ca");
  auto server = *wire::IssueServerCert(ca, "vault", {});
  auto kc = *wire::CreateKeyAndCsr("agent");
  auto client_cert = *wire::SignClientCsr(ca, kc.csr_pem, "agent");
  auto server_tls = *wire::TlsContext::Create({false, ca.cert_pem, server.cert_pem, server.key_pem}, wire::TlsRole::kServer);
  auto client_tls = *wire::TlsContext::Create({false, ca.cert_pem, client_cert, kc.key_pem}, wire::TlsRole::kClient);
  auto store = std::move(store::ReplicaStore::Open(work + "/store")).value();
  if (!store->CreateDisk("d", size).ok()) return 1;
  vault::ReplicationOptions ro;
  auto service = std::move(vault::ReplicationService::Start(ro, server_tls, [&](const std::string&, const wire::Hello& h) {
                   return store->Disk(h.disk_id);
                 })).value();
  agent::SenderOptions so;
  so.vaults = {{"127.0.0.1", service->port()}};
  so.tls = client_tls;
  so.agent_id = "agent";
  so.machine = "m";
  so.disk_id = "d";
  so.disk_size_bytes = size;
  so.streams = streams;
  so.codec = *codec;
  agent::DiskSender sender(so);
  if (!sender.Start(10000).ok()) return 1;
  agent::ScanOptions sc;
  sc.disk_path = image;
  sc.state_dir = work + "/agent";
  agent::ScanCapture capture(sc, &sender);
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  double submitted_s = 0;  // when the last range was read and handed to the sender
  auto initial = capture.RunOnce([&](const agent::ScanProgress& p) {
    if (p.bytes_done == p.bytes_total && submitted_s == 0) submitted_s = p.seconds;
  });
  double initial_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double initial_cpu = CpuSeconds() - cpu0;
  if (!initial.ok()) {
    std::fprintf(stderr, "%s\n", initial.status().ToString().c_str());
    return 1;
  }
  // Change `changed` percent of the 64 KiB blocks, as the rsync run does with the same seed.
  {
    FILE* f = std::fopen(image.c_str(), "r+b");
    std::mt19937_64 rng(42);
    uint64_t blocks = size / 65536, n = uint64_t(double(blocks) * changed / 100.0);
    std::string buf(65536, '\0');
    for (uint64_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < buf.size(); j += 8) {
        uint64_t v = rng();
        std::memcpy(buf.data() + j, &v, 8);
      }
      std::fseek(f, long((i * 7919 % blocks) * 65536), SEEK_SET);
      std::fwrite(buf.data(), 1, buf.size(), f);
    }
    std::fclose(f);
  }
  cpu0 = CpuSeconds();
  t0 = std::chrono::steady_clock::now();
  auto delta = capture.RunOnce();
  double delta_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double delta_cpu = CpuSeconds() - cpu0;
  if (!delta.ok()) return 1;
  auto* d = *store->Disk("d");
  std::string out = work + "/restored.img";
  if (!d->Materialize(d->durable_seq(), out, {}, false).ok()) return 1;
  bool equal = std::system(("cmp -s " + out + " " + image).c_str()) == 0;
  double gib = double(size) / (1 << 30);
  std::printf("streams=%d codec=%s image=%.2f GiB\n", streams, argv[4] ? argv[4] : "none", gib);
  std::printf("initial: %.2f s, %.0f MB/s of disk, %.0f MB/s of data sent, %.2f CPU s per GiB of disk"
              " (all read and queued at %.2f s)\n",
              initial_s, double(size) / 1e6 / initial_s, double(initial->bytes_sent) / 1e6 / initial_s, initial_cpu / gib,
              submitted_s);
  std::printf("delta:   %.2f s, %llu blocks changed, %.2f CPU s\n", delta_s, (unsigned long long)delta->blocks_changed,
              delta_cpu);
  std::printf("replica equals source: %s\n", equal ? "yes" : "NO");
  std::printf("RESULT initial_s=%.3f delta_s=%.3f equal=%d\n", initial_s, delta_s, equal ? 1 : 0);
  sender.Stop();
  service->Stop();
  return equal ? 0 : 1;
}
