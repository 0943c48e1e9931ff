// Helpers for control-plane tests: a temporary directory removed at the end.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lifeline::control::testing {

class TempDir {
 public:
  TempDir() {
    // tmpfs when there is one: the catalog fsyncs every commit, which tmpfs makes cheap.
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/lifeline-control-XXXXXX";
    char* p = mkdtemp(tmpl.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text, bool executable = false) {
  {
    std::ofstream out(path);
    out << text;
  }
  if (executable) std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

#define ASSERT_OK(expr)                          \
  do {                                           \
    auto ll_s_ = (expr);                         \
    ASSERT_TRUE(ll_s_.ok()) << ll_s_.ToString(); \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                           \
  auto LL_CONCAT(ll_r_, __LINE__) = (expr);                                                       \
  ASSERT_TRUE(LL_CONCAT(ll_r_, __LINE__).ok()) << LL_CONCAT(ll_r_, __LINE__).status().ToString(); \
  lhs = std::move(LL_CONCAT(ll_r_, __LINE__)).value()

}  // namespace lifeline::control::testing
