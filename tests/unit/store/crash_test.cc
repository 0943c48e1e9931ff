// Real crash test: a writer process is killed with SIGKILL at random moments, several times
// in a row on the same replica; after each kill the replica is reopened and every seq the
// writer reported durable, and every point it reported, reads back byte-exactly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <thread>

#include "store/disk_replica.h"
#include "store_test_util.h"

namespace lifeline::store {
namespace {

std::string StateAt(uint64_t seed, uint64_t seq, uint64_t disk) {
  std::string state(disk, '\0');
  for (uint64_t s = 1; s <= seq; ++s) {
    std::mt19937_64 w(seed * 7919 + s);
    uint32_t len = uint32_t(4096 * (1 + w() % 16));
    uint64_t off = (w() % ((disk - len) / 4096 + 1)) * 4096;
    std::string data = testing::PatternBytes(seed, s, len);
    std::memcpy(state.data() + off, data.data(), len);
  }
  return state;
}

TEST(StoreCrash, SigkillAtRandomMomentsLosesNothingDurable) {
  uint64_t seed = std::random_device{}() % 100000;
  std::printf("crash test seed %llu\n", (unsigned long long)seed);
  std::string dir = testing::TempDir("crash") + "/d";
  std::mt19937_64 rng(seed);
  uint64_t reported_durable = 0;
  std::map<uint64_t, uint64_t> reported_points;  // id -> seq
  for (int round = 0; round < 6; ++round) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::execl(CRASH_WRITER, CRASH_WRITER, dir.c_str(), std::to_string(seed).c_str(), nullptr);
      _exit(127);
    }
    ::close(out[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with status " << status;
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    ::close(out[0]);
    std::istringstream lines(text);
    std::string word;
    while (lines >> word) {
      if (word == "durable") lines >> reported_durable;
      else if (word == "point") {
        uint64_t id, seq;
        lines >> id >> seq;
        reported_points[id] = seq;
      }
    }
    auto opened = DiskReplica::Open(dir);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto d = std::move(opened).value();
    ASSERT_TRUE(d->read_only_reason().empty()) << d->read_only_reason();
    ASSERT_GE(d->durable_seq(), reported_durable) << "round " << round << ": an acknowledged write was lost";
    ASSERT_GT(reported_durable, 0u) << "the writer reported nothing; the test proved nothing";
    ASSERT_TRUE(testing::SameBytes(testing::ReadAll(*d, reported_durable), StateAt(seed, reported_durable, d->size_bytes())));
    ASSERT_TRUE(testing::SameBytes(testing::ReadAll(*d, d->durable_seq()), StateAt(seed, d->durable_seq(), d->size_bytes())));
    for (auto [id, seq] : reported_points) {
      auto p = d->FindPoint(id);
      ASSERT_TRUE(p.ok()) << "point " << id << " lost";
      ASSERT_EQ(p->seq, seq);
    }
    std::printf("round %d: reported durable %llu, recovered durable %llu, %zu points\n", round,
                (unsigned long long)reported_durable, (unsigned long long)d->durable_seq(),
                reported_points.size());
  }
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

}  // namespace
}  // namespace lifeline::store
