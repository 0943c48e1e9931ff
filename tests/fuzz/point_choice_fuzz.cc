// Fuzzes the point choice parser (vault/point_export.h ResolvePoint) and the recovery
// operations' request checks against a small replica with two points: any input gives a
// point or a clean error, never a crash.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/replica_store.h"
#include "vault/point_export.h"

namespace {

lifeline::store::DiskReplica* Replica() {
  static lifeline::store::DiskReplica* replica = [] {
    auto dir = std::filesystem::temp_directory_path() /
               ("ll-point-choice-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    static std::unique_ptr<lifeline::store::ReplicaStore> store =
        lifeline::store::ReplicaStore::Open(dir.string()).value();  // lives as long as the process
    auto* r = store->CreateDisk("d", 1 << 20).value();
    std::string data(4096, 'x');
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      lifeline::store::WriteRecord w;
      w.seq = seq;
      w.offset = seq * 4096;
      w.length = 4096;
      w.payload = data;
      w.time_unix_ns = int64_t(seq) * 1000000000;
      (void)r->Append(w);
      (void)r->Sync();
      lifeline::store::PointRequest p;
      p.seq = seq;
      p.kind = seq == 2 ? lifeline::store::PointKind::kApp : lifeline::store::PointKind::kCrash;
      (void)r->AddPoint(p);
    }
    return r;
  }();
  return replica;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string choice(reinterpret_cast<const char*>(data), std::min<size_t>(size, 256));
  auto r = lifeline::vault::ResolvePoint(*Replica(), choice);
  if (r.ok() && (r->seq < Replica()->folded_seq() || r->seq > Replica()->durable_seq()))
    __builtin_trap();
  return 0;
}
