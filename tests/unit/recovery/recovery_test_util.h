// Helpers for recovery tests: a temp dir, a replica filled with known writes and points,
// running a tool and capturing its output.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/status.h"
#include "store/disk_replica.h"

namespace lifeline::recovery_testing {

#define RT_ASSERT_OK(expr)                       \
  do {                                           \
    auto ll_s_ = (expr);                         \
    ASSERT_TRUE(ll_s_.ok()) << ll_s_.ToString(); \
  } while (0)

inline std::string TempDir(const std::string& tag) {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("ll-" + tag + "-" + std::to_string(::getpid()) + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Runs a shell command; returns its exit code and stdout+stderr.
inline int Shell(const std::string& command, std::string* output = nullptr) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file of a directory tree with its contents, to prove nothing changed. The PINS file
// is left out: it is retention's list of seqs exports read at, not the replica's data.
inline std::string TreeDigest(const std::string& dir) {
  std::string out;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "PINS") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string data = ReadAll(f);
    out += f + ":" + std::to_string(data.size()) + ":" +
           std::to_string(std::hash<std::string>{}(data)) + "\n";
  }
  return out;
}

inline std::string Bytes(char c, size_t n) { return std::string(n, c); }

// Appends a data write of `n` bytes of `c` at `offset` with the next seq.
inline Status WriteFill(store::DiskReplica* r, uint64_t offset, char c, uint32_t n,
                        int64_t time_ns) {
  std::string data(n, c);
  store::WriteRecord w;
  w.seq = r->appended_seq() + 1;
  w.offset = offset;
  w.length = n;
  w.payload = data;
  w.time_unix_ns = time_ns;
  LL_RETURN_IF_ERROR(r->Append(w));
  return r->Sync().status();
}

inline std::string ReadAtSeq(const store::DiskReplica* r, uint64_t seq, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  Status s = r->ReadAt(seq, offset, out.data(), n);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

}  // namespace lifeline::recovery_testing
