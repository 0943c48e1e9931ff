// Helpers for replica store tests: temp dirs, deterministic write payloads and an in-memory
// reference disk that records its history so any seq can be compared byte for byte.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "store/disk_replica.h"

namespace lifeline::store::testing {

inline std::string TempDir(const std::string& tag) {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("ll-" + tag + "-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Deterministic bytes for write `seq` (so a crashed writer's data can be regenerated).
inline std::string PatternBytes(uint64_t seed, uint64_t seq, size_t n) {
  std::string out(n, '\0');
  std::mt19937_64 rng(seed * 1000003 + seq);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// The source disk and its history: state at any seq is rebuilt from the writes.
class ReferenceDisk {
 public:
  explicit ReferenceDisk(uint64_t size) : size_(size) {}
  struct W {
    uint64_t seq, offset;
    RecordKind kind;
    std::string data;  // for kData
    uint32_t length;
  };
  void Apply(const W& w) { writes_.push_back(w); }
  std::string StateAt(uint64_t seq) const {
    std::string disk(size_, '\0');
    for (const auto& w : writes_) {
      if (w.seq > seq) break;
      if (w.kind == RecordKind::kData) std::memcpy(disk.data() + w.offset, w.data.data(), w.length);
      else std::memset(disk.data() + w.offset, 0, w.length);
    }
    return disk;
  }
  uint64_t size() const { return size_; }
  uint64_t last_seq() const { return writes_.empty() ? 0 : writes_.back().seq; }
  void TruncateAfter(uint64_t seq) {
    while (!writes_.empty() && writes_.back().seq > seq) writes_.pop_back();
  }

 private:
  uint64_t size_;
  std::vector<W> writes_;
};

inline WriteRecord ToRecord(const ReferenceDisk::W& w, int64_t time_ns) {
  WriteRecord r;
  r.seq = w.seq;
  r.offset = w.offset;
  r.length = w.length;
  r.kind = w.kind;
  r.payload = w.data;
  r.time_unix_ns = time_ns;
  return r;
}

// Compares two disk images and names the first differing offset instead of dumping bytes.
inline ::testing::AssertionResult SameBytes(const std::string& actual, const std::string& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " != " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i)
    if (actual[i] != expected[i])
      return ::testing::AssertionFailure() << "first difference at offset " << i << " (block " << i / 4096 << ")";
  return ::testing::AssertionSuccess();
}

inline std::string ReadAll(const DiskReplica& d, uint64_t seq) {
  std::string out(d.size_bytes(), '\0');
  Status s = d.ReadAt(seq, 0, out.data(), out.size());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// The bytes of a file (holes read as zeros).
inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace lifeline::store::testing
