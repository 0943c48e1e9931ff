// Replica store benchmark: journal append (group commit) vs a raw sequential write of the
// same bytes with the same fsync cadence, then random point reads and fold throughput.
// usage: store_bench DIR [total_mib] [record_kib] [records_per_sync] [rounds] [raw|journal|both]
// Single-threaded; run it alone on its folder.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/disk_replica.h"

using namespace lifeline;
using namespace lifeline::store;
using Clock_ = std::chrono::steady_clock;

namespace {

double Seconds(Clock_::time_point a) { return std::chrono::duration<double>(Clock_::now() - a).count(); }

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Round {
  double wall_s = 0, cpu_s = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: store_bench DIR [total_mib=512] [record_kib=64] [records_per_sync=64] [rounds=5] "
                 "[both|raw|journal]\n");
    return 2;
  }
  std::string dir = argv[1];
  uint64_t total_mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 512;
  uint64_t record = (argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 64) * 1024;
  uint64_t per_sync = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 64;
  int rounds = argc > 5 ? std::atoi(argv[5]) : 5;
  std::string mode = argc > 6 ? argv[6] : "both";
  if (record == 0 || record > kMaxRecordBytes || per_sync == 0 || rounds < 1 ||
      (mode != "both" && mode != "raw" && mode != "journal")) {
    std::fprintf(stderr, "store_bench: bad arguments\n");
    return 2;
  }
  uint64_t records = total_mib * 1024 * 1024 / record;
  uint64_t disk = 4ull << 30;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Incompressible data, generated once so both sides write the same bytes from the same buffers.
  std::vector<std::string> blocks(64);
  std::mt19937_64 rng(1);
  for (auto& b : blocks) {
    b.resize(record);
    for (size_t i = 0; i < record; i += 8) {
      uint64_t v = rng();
      std::memcpy(b.data() + i, &v, std::min<size_t>(8, record - i));
    }
  }
  std::string raw_path = dir + "/raw.bin", disk_dir = dir + "/disk";
  std::unique_ptr<DiskReplica> d;
  // Both sides start from the same state: the other side's files removed, everything
  // written back (sync), and a short pause so the writeback of the deletion has settled.
  auto settle = [&] {
    d.reset();
    std::filesystem::remove(raw_path);
    std::filesystem::remove_all(disk_dir);
    ::sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  };
  auto raw_round = [&]() -> Round {
    settle();
    double cpu = CpuSeconds();
    auto t = Clock_::now();
    int fd = ::open(raw_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return {-1, 0};
    for (uint64_t i = 0; i < records; ++i) {
      if (::write(fd, blocks[i % 64].data(), record) != ssize_t(record)) return {-1, 0};
      if ((i + 1) % per_sync == 0) ::fdatasync(fd);
    }
    ::fdatasync(fd);
    ::close(fd);
    return {Seconds(t), CpuSeconds() - cpu};
  };
  auto journal_round = [&]() -> Round {
    settle();
    d = std::move(DiskReplica::Create(disk_dir, "bench", disk, {})).value();
    double cpu = CpuSeconds();
    auto t = Clock_::now();
    for (uint64_t i = 0; i < records; ++i) {
      WriteRecord r;
      r.seq = i + 1;
      r.offset = (i * record) % disk;
      r.length = uint32_t(record);
      r.payload = blocks[i % 64];
      if (!d->Append(r).ok()) return {-1, 0};
      if ((i + 1) % per_sync == 0 && !d->Sync().ok()) return {-1, 0};
    }
    if (!d->Sync().ok()) return {-1, 0};
    return {Seconds(t), CpuSeconds() - cpu};
  };
  std::string load_before = LoadAverage();
  // Alternated A,B,B,A,... so that neither side always runs first after the other.
  std::vector<Round> raws, journals;
  for (int round = 0; round < rounds; ++round) {
    bool raw_first = round % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      bool raw = (k == 0) == raw_first;
      if (raw && mode == "journal") continue;
      if (!raw && mode == "raw") continue;
      Round r = raw ? raw_round() : journal_round();
      if (r.wall_s < 0) {
        std::fprintf(stderr, "store_bench: %s round failed\n", raw ? "raw" : "journal");
        return 1;
      }
      (raw ? raws : journals).push_back(r);
    }
  }
  double mib = double(records * record) / (1 << 20);
  auto walls = [](const std::vector<Round>& v) {
    std::vector<double> w;
    for (auto& r : v) w.push_back(r.wall_s);
    return w;
  };
  auto cpus = [](const std::vector<Round>& v) {
    std::vector<double> w;
    for (auto& r : v) w.push_back(r.cpu_s);
    return w;
  };
  auto list = [](const std::vector<Round>& v) {
    std::string s;
    char b[32];
    for (auto& r : v) {
      std::snprintf(b, sizeof b, "%s%.2f", s.empty() ? "" : " ", r.wall_s);
      s += b;
    }
    return s;
  };
  std::printf("append: %llu records of %llu KiB (%.0f MiB), fsync every %llu records; %d alternated rounds\n",
              (unsigned long long)records, (unsigned long long)(record / 1024), mib, (unsigned long long)per_sync,
              rounds);
  std::printf("  load average before %s, after %s\n", load_before.c_str(), LoadAverage().c_str());
  if (!raws.empty())
    std::printf("  raw write + fdatasync  %8.1f MiB/s  median %.2f s, cpu %.2f s  (rounds: %s)\n",
                mib / Median(walls(raws)), Median(walls(raws)), Median(cpus(raws)), list(raws).c_str());
  if (!journals.empty())
    std::printf("  journal append + Sync  %8.1f MiB/s  median %.2f s, cpu %.2f s  (rounds: %s)\n",
                mib / Median(walls(journals)), Median(walls(journals)), Median(cpus(journals)),
                list(journals).c_str());
  if (!raws.empty() && !journals.empty())
    std::printf("  ratio journal/raw      %8.2fx of the medians (target >= 0.80x)\n",
                Median(walls(raws)) / Median(walls(journals)));
  if (!d) {
    settle();
    std::filesystem::remove_all(dir);
    return 0;
  }
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
  settle();
  std::filesystem::remove_all(dir);
  return 0;
}
