// Test helper for replication across the lab: one side of the replication path per process,
// started inside a lab namespace with `ip netns exec`. Modes:
//   pki DIR ADDRESS            write a CA, a vault certificate for ADDRESS and an agent cert
//   vault DIR PORT SIZE_MIB    serve a replica store in DIR/store until DIR/stop exists
//   agent DIR HOST PORT IMAGE  replicate IMAGE (initial), change 1% of it, replicate again;
//                              prints one JSON line with the longest stall of acknowledgements
//   verify DIR IMAGE           the replica's newest point equals IMAGE, byte for byte
// Exit 0 on success; errors on stderr.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "agent/scan_capture.h"
#include "common/fs.h"
#include "store/replica_store.h"
#include "vault/replication_service.h"
#include "wire/pki.h"
#include "wire/tls.h"

namespace fs = std::filesystem;
using namespace lifeline;

namespace {

int Die(const std::string& what) {
  std::fprintf(stderr, "lab_repl_node: %s\n", what.c_str());
  return 1;
}

std::string Slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void Put(const std::string& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary);
  f << data;
}

void WriteRandom(const std::string& path, uint64_t offset, uint64_t len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string buf(len, '\0');
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t v = rng();
    std::memcpy(buf.data() + i, &v, 8);
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(buf.data(), len);
}

std::shared_ptr<wire::TlsContext> Context(const std::string& dir, bool server) {
  wire::TlsConfig c{false, Slurp(dir + "/ca.pem"),
                    Slurp(dir + (server ? "/server.pem" : "/client.pem")),
                    Slurp(dir + (server ? "/server.key" : "/client.key"))};
  auto ctx = wire::TlsContext::Create(c, server ? wire::TlsRole::kServer : wire::TlsRole::kClient);
  return ctx.ok() ? ctx.value() : nullptr;
}

int Pki(const std::string& dir, const std::string& address) {
  fs::create_directories(dir);
  auto ca = wire::CreateCa("lab vault CA");
  if (!ca.ok()) return Die(ca.status().ToString());
  auto server = wire::IssueServerCert(*ca, "vault", {address});
  if (!server.ok()) return Die(server.status().ToString());
  auto kc = wire::CreateKeyAndCsr("agent-1");
  if (!kc.ok()) return Die(kc.status().ToString());
  auto client = wire::SignClientCsr(*ca, kc->csr_pem, "agent-1", {});
  if (!client.ok()) return Die(client.status().ToString());
  Put(dir + "/ca.pem", ca->cert_pem);
  Put(dir + "/server.pem", server->cert_pem);
  Put(dir + "/server.key", server->key_pem);
  Put(dir + "/client.pem", *client);
  Put(dir + "/client.key", kc->key_pem);
  return 0;
}

int Vault(const std::string& dir, uint16_t port, uint64_t size_bytes) {
  auto store = store::ReplicaStore::Open(dir + "/store");
  if (!store.ok()) return Die(store.status().ToString());
  if (!(*store)->Disk("web-os").ok()) {
    auto d = (*store)->CreateDisk("web-os", size_bytes);
    if (!d.ok()) return Die(d.status().ToString());
  }
  auto tls = Context(dir, true);
  if (!tls) return Die("vault TLS context");
  vault::ReplicationOptions opts;
  opts.server.bind_address = "0.0.0.0";
  opts.server.port = port;
  store::ReplicaStore* st = store->get();
  auto svc = vault::ReplicationService::Start(
      opts, tls,
      [st](const std::string& agent, const wire::Hello& h) -> Result<store::DiskReplica*> {
        if (agent != "agent-1") return Status::Unauthenticated("unknown agent " + agent);
        return st->Disk(h.disk_id);
      });
  if (!svc.ok()) return Die(svc.status().ToString());
  std::printf("vault listening on %u\n", (*svc)->port());
  std::fflush(stdout);
  while (!fs::exists(dir + "/stop")) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*svc)->Stop();
  return 0;
}

int Agent(const std::string& dir, const std::string& host, uint16_t port,
          const std::string& image) {
  uint64_t size = fs::file_size(image);
  agent::SenderOptions o;
  o.vaults = {{host, port}};
  o.tls = Context(dir, false);
  if (!o.tls) return Die("agent TLS context");
  o.agent_id = "agent-1";
  o.machine = "web";
  o.disk_id = "web-os";
  o.disk_size_bytes = size;
  o.streams = 4;
  o.backoff_initial_ms = 50;
  o.backoff_max_ms = 500;
  agent::DiskSender sender(o);
  auto durable = sender.Start(20000);
  if (!durable.ok()) return Die("start: " + durable.status().ToString());
  agent::ScanOptions so;
  so.disk_path = image;
  so.state_dir = dir + "/agent-state";
  so.read_bytes = 1u << 20;
  agent::ScanCapture capture(so, &sender);
  // Watch acknowledgements: the longest stall while data is in flight is the outage.
  std::atomic<bool> done{false};
  double longest_stall_s = 0;
  std::thread watch([&] {
    using C = std::chrono::steady_clock;
    uint64_t last = sender.acked_seq();
    auto last_t = C::now();
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      uint64_t now_seq = sender.acked_seq();
      auto st = sender.stats();
      auto now = C::now();
      if (now_seq != last || st.submitted_seq == now_seq) {
        last = now_seq;
        last_t = now;
      } else {
        double stall = std::chrono::duration<double>(now - last_t).count();
        if (stall > longest_stall_s) longest_stall_s = stall;
      }
    }
  });
  auto t0 = std::chrono::steady_clock::now();
  std::printf("agent started\n");
  std::fflush(stdout);
  auto initial = capture.RunOnce();
  double initial_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!initial.ok()) {
    done = true;
    watch.join();
    return Die("initial: " + initial.status().ToString());
  }
  for (int i = 0; i < 8; ++i) WriteRandom(image, uint64_t(i) * 97 * 65536 % size, 65536, 100 + i);
  auto delta = capture.RunOnce();
  done = true;
  watch.join();
  if (!delta.ok()) return Die("delta: " + delta.status().ToString());
  auto st = sender.stats();
  std::printf(
      "{\"initial_s\": %.3f, \"initial_bytes\": %llu, \"delta_bytes\": %llu, "
      "\"outage_s\": %.3f, \"reconnects\": %llu, \"resent_frames\": %llu, "
      "\"acked_seq\": %llu}\n",
      initial_s, (unsigned long long)initial->bytes_sent, (unsigned long long)delta->bytes_sent,
      longest_stall_s, (unsigned long long)st.reconnects, (unsigned long long)st.resent_frames,
      (unsigned long long)st.acked_seq);
  sender.Stop();
  return 0;
}

int Verify(const std::string& dir, const std::string& image) {
  auto store = store::ReplicaStore::Open(dir + "/store");
  if (!store.ok()) return Die(store.status().ToString());
  auto d = (*store)->Disk("web-os");
  if (!d.ok()) return Die(d.status().ToString());
  std::string out = dir + "/restored.img";
  Status s = (*d)->Materialize((*d)->durable_seq(), out);
  if (!s.ok()) return Die(s.ToString());
  if (Slurp(out) != Slurp(image)) return Die("replica differs from the source");
  std::printf("replica equals the source at seq %llu\n", (unsigned long long)(*d)->durable_seq());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "pki" && argc == 4) return Pki(argv[2], argv[3]);
  if (mode == "vault" && argc == 5)
    return Vault(argv[2], static_cast<uint16_t>(std::stoi(argv[3])), std::stoull(argv[4]) << 20);
  if (mode == "agent" && argc == 6)
    return Agent(argv[2], argv[3], static_cast<uint16_t>(std::stoi(argv[4])), argv[5]);
  if (mode == "verify" && argc == 4) return Verify(argv[2], argv[3]);
  std::fprintf(stderr, "usage: lab_repl_node pki|vault|agent|verify ...\n");
  return 2;
}
