// Test helper: appends deterministic writes to a replica forever, syncing in groups and
// printing "durable <seq>" after each sync, plus "point <id> <seq>" for points. A test kills
// it with SIGKILL at a random moment and checks that everything it reported survived.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "store/disk_replica.h"
#include "store_test_util.h"

using namespace lifeline;
using namespace lifeline::store;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_crash_writer DIR SEED\n");
    return 2;
  }
  std::string dir = argv[1];
  uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  constexpr uint64_t kDisk = 4 << 20;
  DiskOptions opts{nullptr, nullptr, /*segment_target_bytes=*/512 * 1024};
  auto opened = DiskReplica::Open(dir, opts);
  if (!opened.ok() && opened.status().code() == Code::kNotFound)
    opened = DiskReplica::Create(dir, "crash", kDisk, {}, opts);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto d = std::move(opened).value();
  std::mt19937_64 rng(seed);
  for (uint64_t seq = d->appended_seq() + 1;; ++seq) {
    // Offsets and lengths derive from (seed, seq) so the checker can rebuild the history.
    std::mt19937_64 w(seed * 7919 + seq);
    uint32_t len = uint32_t(4096 * (1 + w() % 16));
    uint64_t off = (w() % ((kDisk - len) / 4096 + 1)) * 4096;
    std::string data = lifeline::store::testing::PatternBytes(seed, seq, len);
    WriteRecord r;
    r.seq = seq;
    r.offset = off;
    r.length = len;
    r.payload = data;
    Status s = d->Append(r);
    if (!s.ok()) {
      std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
      return 1;
    }
    if (rng() % 8 == 0) {
      auto durable = d->Sync();
      if (!durable.ok()) return 1;
      std::printf("durable %llu\n", (unsigned long long)*durable);
      if (rng() % 4 == 0) {
        auto p = d->AddPoint({.seq = *durable});
        if (p.ok()) std::printf("point %llu %llu\n", (unsigned long long)p->id, (unsigned long long)p->seq);
      }
      std::fflush(stdout);
    }
  }
}
