// Replication transport throughput over loopback: N streams send WRITE frames of
// --frame-kib raw data to a vault-like server that verifies every frame and acks it;
// reports MB/s from the first send to the last ack. TLS 1.3 with mutual authentication
// by default, plain TCP with --insecure. Prints one JSON line on stdout.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
#include "wire/messages.h"
#include "wire/pki.h"
#include "wire/streams.h"
#include "wire/transport.h"

using namespace lifeline;
using namespace lifeline::wire;

namespace {

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "wire_throughput: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

struct Args {
  int streams = 4;
  uint64_t total_mib = 2048;
  size_t frame_kib = 1024;
  bool insecure = false;
  Codec codec = Codec::kNone;
  int64_t dead_after_ms = 1000;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", k.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (k == "--streams")
      a.streams = std::atoi(next().c_str());
    else if (k == "--total-mib")
      a.total_mib = std::strtoull(next().c_str(), nullptr, 10);
    else if (k == "--frame-kib")
      a.frame_kib = std::strtoull(next().c_str(), nullptr, 10);
    else if (k == "--insecure")
      a.insecure = true;
    else if (k == "--dead-after-ms")
      a.dead_after_ms = std::atoll(next().c_str());
    else if (k == "--codec")
      a.codec = Must(ParseCodec(next()), "codec");
    else {
      std::fprintf(stderr,
                   "usage: wire_throughput [--streams N] [--total-mib M] [--frame-kib K] "
                   "[--insecure] [--codec none|lz4|zstd] [--dead-after-ms MS]\n");
      std::exit(2);
    }
  }
  Status st = ValidateStreamCount(a.streams);
  if (!st.ok()) {
    std::fprintf(stderr, "wire_throughput: %s\n", st.message().c_str());
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  std::shared_ptr<TlsContext> server_tls, client_tls;
  if (!args.insecure) {
    CertifiedKey ca = Must(CreateCa("bench CA"), "CA");
    CertifiedKey server = Must(IssueServerCert(ca, "vault", {}), "server cert");
    KeyAndCsr kc = Must(CreateKeyAndCsr("bench-agent"), "CSR");
    std::string client_cert = Must(SignClientCsr(ca, kc.csr_pem, "bench-agent"), "client cert");
    server_tls = Must(
        TlsContext::Create({false, ca.cert_pem, server.cert_pem, server.key_pem}, TlsRole::kServer),
        "server TLS");
    client_tls =
        Must(TlsContext::Create({false, ca.cert_pem, client_cert, kc.key_pem}, TlsRole::kClient),
             "client TLS");
  }
  std::atomic<uint64_t> received_bytes{0};
  std::atomic<uint64_t> expected_bytes{~0ull};
  ServerOptions server_options;
  server_options.connection.dead_after_ms = args.dead_after_ms;
  ConnectOptions connect_options;
  connect_options.connection.dead_after_ms = args.dead_after_ms;
  auto server =
      Must(Server::Start(server_options, server_tls,
                         [&](Connection& c) {
                           for (;;) {
                             auto r = c.Receive(-1);
                             if (!r.ok() || !r->has_value()) {
                               if (!r.ok() && received_bytes.load() < expected_bytes.load())
                                 std::fprintf(stderr, "server side: %s\n",
                                              r.status().ToString().c_str());
                               return;
                             }
                             auto w = DecodeWrite(**r);
                             if (!w.ok()) {
                               c.CloseWithError(w.status());
                               return;
                             }
                             received_bytes += w->length;
                             if (!c.Send(Encode(Ack{w->seq})).ok()) return;
                           }
                         }),
           "server");

  // Random (incompressible unless --codec finds something) data, one buffer per stream.
  size_t frame_bytes = args.frame_kib * 1024;
  uint64_t frames_total = args.total_mib * 1024 * 1024 / frame_bytes;
  uint64_t per_stream = frames_total / uint64_t(args.streams);
  expected_bytes = per_stream * uint64_t(args.streams) * frame_bytes;
  std::vector<std::shared_ptr<const std::string>> data;
  std::mt19937_64 rng(1);
  for (int s = 0; s < args.streams; ++s) {
    std::string d(frame_bytes, '\0');
    for (size_t i = 0; i + 8 <= d.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(d.data() + i, &v, 8);
    }
    data.push_back(std::make_shared<const std::string>(std::move(d)));
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (int s = 0; s < args.streams; ++s)
    conns.push_back(Must(
        Connect(Endpoint{"127.0.0.1", server->port()}, client_tls, connect_options), "connect"));

  auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  double cpu_start = cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> senders, ackers;
  std::atomic<bool> failed{false};
  for (int s = 0; s < args.streams; ++s) {
    senders.emplace_back([&, s] {
      for (uint64_t i = 0; i < per_stream; ++i) {
        uint64_t seq = i * uint64_t(args.streams) + uint64_t(s) + 1;  // one seq space
        Status st = conns[s]->Send(BuildWrite(seq, seq * frame_bytes, data[s], args.codec, 0));
        if (!st.ok()) {
          std::fprintf(stderr, "stream %d send: %s\n", s, st.ToString().c_str());
          failed = true;
          return;
        }
      }
    });
    ackers.emplace_back([&, s] {
      for (uint64_t i = 0; i < per_stream; ++i) {
        auto f = conns[s]->Receive(10000);
        if (!f.ok() || !f->has_value() || !DecodeAck(**f).ok()) {
          std::fprintf(stderr, "stream %d receive: %s\n", s,
                       f.ok() ? "timeout or not an ACK" : f.status().ToString().c_str());
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  for (auto& t : ackers) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;  // both ends: sender, receiver and their I/O threads
  for (auto& c : conns) c->Close();
  server->Stop();
  if (failed) {
    std::fprintf(stderr, "wire_throughput: a stream failed\n");
    return 1;
  }
  uint64_t bytes = per_stream * uint64_t(args.streams) * frame_bytes;
  if (received_bytes.load() != bytes) {
    std::fprintf(stderr, "wire_throughput: server saw %llu bytes, expected %llu\n",
                 (unsigned long long)received_bytes.load(), (unsigned long long)bytes);
    return 1;
  }
  std::printf(
      "{\"mode\":\"%s\",\"streams\":%d,\"frame_kib\":%zu,\"codec\":\"%s\",\"bytes\":%llu,"
      "\"seconds\":%.3f,\"mb_per_s\":%.1f,\"cpu_seconds\":%.3f,\"mb_per_cpu_s\":%.1f}\n",
      args.insecure ? "tcp" : "tls13", args.streams, args.frame_kib,
      std::string(CodecName(args.codec)).c_str(), (unsigned long long)bytes, seconds,
      double(bytes) / seconds / 1e6, cpu, double(bytes) / cpu / 1e6);
  return 0;
}
