// Replica store benchmark: journal append (group commit) vs a raw sequential write of the
// same bytes with the same fsync cadence, then random point reads and fold throughput.
// usage: store_bench DIR [total_mib] [record_kib] [records_per_sync]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>
#include <algorithm>
#include <memory>

#include "store/disk_replica.h"

using namespace lifeline;
using namespace lifeline::store;
using Clock_ = std::chrono::steady_clock;

static double Seconds(Clock_::time_point a) { return std::chrono::duration<double>(Clock_::now() - a).count(); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_bench DIR [total_mib=1024] [record_kib=64] [records_per_sync=64]\n");
    return 2;
  }
  std::string dir = argv[1];
  uint64_t total_mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1024;
  uint64_t record = (argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 64) * 1024;
  uint64_t per_sync = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 64;
  uint64_t records = total_mib * 1024 * 1024 / record;
  uint64_t disk = 4ull << 30;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Incompressible data, generated once so both sides write the same bytes.
  std::vector<std::string> blocks(64);
  std::mt19937_64 rng(1);
  for (auto& b : blocks) {
    b.resize(record);
    for (size_t i = 0; i < record; i += 8) {
      uint64_t v = rng();
      std::memcpy(b.data() + i, &v, 8);
    }
  }
  // Raw sequential write with the same fsync cadence, and the journal append, alternated
  // three times (the disk's speed drifts; alternating shares the drift), medians compared.
  auto raw_round = [&]() -> double {
    std::string raw_path = dir + "/raw.bin";
    int fd = ::open(raw_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto t = Clock_::now();
    for (uint64_t i = 0; i < records; ++i) {
      if (::write(fd, blocks[i % 64].data(), record) != ssize_t(record)) return -1;
      if ((i + 1) % per_sync == 0) ::fdatasync(fd);
    }
    ::fdatasync(fd);
    double secs = Seconds(t);
    ::close(fd);
    std::filesystem::remove(raw_path);
    ::sync();
    return secs;
  };
  std::unique_ptr<DiskReplica> d;
  auto journal_round = [&]() -> double {
    d.reset();
    std::filesystem::remove_all(dir + "/disk");
    d = std::move(DiskReplica::Create(dir + "/disk", "bench", disk, {})).value();
    auto t = Clock_::now();
    for (uint64_t i = 0; i < records; ++i) {
      WriteRecord r;
      r.seq = i + 1;
      r.offset = (i * record) % disk;
      r.length = uint32_t(record);
      r.payload = blocks[i % 64];
      if (!d->Append(r).ok()) return -1;
      if ((i + 1) % per_sync == 0) (void)d->Sync();
    }
    (void)d->Sync();
    double secs = Seconds(t);
    ::sync();
    return secs;
  };
  std::vector<double> raws, journals;
  for (int round = 0; round < 3; ++round) {
    raws.push_back(raw_round());
    journals.push_back(journal_round());
  }
  std::sort(raws.begin(), raws.end());
  std::sort(journals.begin(), journals.end());
  double raw_s = raws[1], journal_s = journals[1];
  double mib = double(records * record) / (1 << 20);
  std::printf("append: %llu records of %llu KiB, fsync every %llu\n", (unsigned long long)records,
              (unsigned long long)(record / 1024), (unsigned long long)per_sync);
  std::printf("  (medians of 3 alternated rounds; raw %.2f/%.2f/%.2f s, journal %.2f/%.2f/%.2f s)\n", raws[0], raws[1],
              raws[2], journals[0], journals[1], journals[2]);
  std::printf("  raw sequential write   %8.1f MiB/s\n", mib / raw_s);
  std::printf("  journal append         %8.1f MiB/s\n", mib / journal_s);
  std::printf("  ratio journal/raw      %8.2fx (target >= 0.80x)\n", raw_s / journal_s);
  // Random 64 KiB reads at the newest seq and at a seq half way.
  std::string buf(64 * 1024, '\0');
  uint64_t span = std::min<uint64_t>(records * record, disk) - buf.size();
  for (uint64_t at : {d->durable_seq(), d->durable_seq() / 2}) {
    uint64_t reads = 4096;
    auto t = Clock_::now();
    for (uint64_t i = 0; i < reads; ++i) {
      uint64_t off = (rng() % (span / 4096)) * 4096;
      if (!d->ReadAt(at, off, buf.data(), buf.size()).ok()) return 1;
    }
    double s = Seconds(t);
    std::printf("point read (seq %llu): %llu random 64 KiB reads, %8.1f MiB/s, %.0f reads/s\n",
                (unsigned long long)at, (unsigned long long)reads, double(reads) * 64 / 1024 / s, double(reads) / s);
  }
  auto t = Clock_::now();
  auto fold = d->FoldTo(d->durable_seq());
  double fold_s = Seconds(t);
  if (!fold.ok()) return 1;
  std::printf("fold: %llu records (%.0f MiB) into the base in %.2f s, %8.1f MiB/s\n",
              (unsigned long long)fold->records_folded, mib, fold_s, mib / fold_s);
  d.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
