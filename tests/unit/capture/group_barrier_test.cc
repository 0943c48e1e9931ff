// GroupBarrier: group points are consistent across members (a write that completed after a
// write on another member is never in a point that lacks the earlier one), the hold is
// bounded, and a member that cannot take a point means no member gets one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/group_barrier.h"

namespace lifeline::agent {
namespace {

namespace fs = std::filesystem;

class GroupBarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (fs::temp_directory_path() / ("ll-gb-" + std::to_string(::getpid()) + "-" + info->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    members_.clear();
    fs::remove_all(dir_);
  }
  NbdCapture* Add(int i) {
    std::string img = dir_ + "/disk" + std::to_string(i) + ".img";
    { std::ofstream(img).close(); }
    fs::resize_file(img, 8u << 20);
    NbdCaptureOptions o;
    o.disk_path = img;
    o.point_interval_ms = 0;
    members_.push_back(std::make_unique<NbdCapture>(o, nullptr));
    EXPECT_TRUE(members_.back()->Start(1).ok());
    return members_.back().get();
  }
  std::string dir_;
  std::vector<std::unique_ptr<NbdCapture>> members_;
};

TEST_F(GroupBarrierTest, PointsAreConsistentAcrossMembersAndHoldIsBounded) {
  NbdCapture* a = Add(0);
  NbdCapture* b = Add(1);
  std::atomic<bool> stop{false};
  std::string data(4096, 'w');
  ByteSpan span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  // A writer whose write on b always follows its write on a (like a database log on one
  // disk and its data on another).
  std::thread writer([&] {
    while (!stop) {
      a->queue()->Record(wire::WriteKind::kData, 0, data.size(), span);
      b->queue()->Record(wire::WriteKind::kData, 0, data.size(), span);
    }
  });
  while (b->queue()->last_seq() < 10) std::this_thread::yield();
  GroupBarrier barrier({a, b});
  int64_t max_held_us = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = barrier.TakePoint("g1", "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->seqs.size(), 2u);
    // b's k-th write follows a's k-th write: b's point may never be ahead of a's.
    EXPECT_LE(r->seqs[1], r->seqs[0]) << "inconsistent group point at iteration " << i;
    max_held_us = std::max(max_held_us, r->held_us);
  }
  stop = true;
  writer.join();
  EXPECT_LE(max_held_us, 50'000);
}

TEST_F(GroupBarrierTest, AMemberThatCannotTakeAPointMeansNoPointAnywhere) {
  NbdCapture* a = Add(0);
  NbdCapture* b = Add(1);
  std::string data(4096, 'w');
  a->queue()->Record(wire::WriteKind::kData, 0, data.size(), ByteSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  // b has no write yet: no consistent point can name it.
  GroupBarrier barrier({a, b});
  auto r = barrier.TakePoint("g1", "");
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  // a's queue holds only the write, not a point (the sender thread may have drained it).
  EXPECT_EQ(a->stats().points, 0u);
  // Writes go on after the failed attempt.
  a->queue()->Record(wire::WriteKind::kData, 0, data.size(), ByteSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  EXPECT_EQ(a->queue()->last_seq(), 2u);
}

}  // namespace
}  // namespace lifeline::agent
