// App-consistent points on a schedule in nbd mode: the pre hook (freeze), a point of kind
// app, the post hook (thaw), every interval, with the hooks' output in the log. A failing
// hook gives a crash-consistent point labelled app-hook-failed and a warning, and the
// schedule and the VM's writes go on.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "capture_fixture.h"
#include "common/log.h"
#include "raw_nbd_client.h"

namespace lifeline {
namespace {

using namespace capture_testing;

class AppPointTest : public CaptureFixture {
 protected:
  std::vector<store::RecoveryPoint> PointsOf(store::PointKind kind, const std::string& label) {
    std::vector<store::RecoveryPoint> out;
    for (const auto& p : Replica()->Points())
      if (p.kind == kind && p.label == label) out.push_back(p);
    return out;
  }
  // Waits until `n` points of `kind` and `label` are in the replica.
  bool WaitPoints(store::PointKind kind, const std::string& label, size_t n, int64_t timeout_ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      if (PointsOf(kind, label).size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

TEST_F(AppPointTest, AppPointsComeOnScheduleWithHookOutputLogged) {
  std::string hooks = dir_ + "/hooks.log";
  auto co = CaptureOpts();
  co.pre_hook = "echo \"$LIFELINE_HOOK\" >> " + hooks + "; echo froze the database";
  co.post_hook = "echo \"$LIFELINE_HOOK\" >> " + hooks + "; echo thawed the database";
  co.app_point_interval_ms = 600;
  log::SetLevel(log::Level::kInfo);
  ::testing::internal::CaptureStderr();
  StartAgent(co, SenderOpts());
  RawNbdClient c;
  ASSERT_TRUE(c.Connect(capture_->port()).ok());
  ASSERT_TRUE(c.Write(0, std::string(4096, 'a')).ok());
  // Keep writing while the schedule runs: the hooks never hold the writes.
  auto t0 = std::chrono::steady_clock::now();
  int64_t slowest_write_ms = 0;
  for (int i = 0; PointsOf(store::PointKind::kApp, "scheduled").size() < 4 &&
                  std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20);
       ++i) {
    auto w0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.Write(uint64_t(i % 256) * 4096, std::string(4096, char('b' + i % 20))).ok());
    slowest_write_ms = std::max<int64_t>(
        slowest_write_ms,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - w0)
            .count());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  capture_->Stop();
  std::string log = ::testing::internal::GetCapturedStderr();
  auto app = PointsOf(store::PointKind::kApp, "scheduled");
  ASSERT_GE(app.size(), 4u);
  // On schedule: consecutive points about one interval apart.
  for (size_t i = 1; i < app.size(); ++i) {
    double gap_ms = double(app[i].time_unix_ns - app[i - 1].time_unix_ns) / 1e6;
    EXPECT_GT(gap_ms, 400.0) << "point " << i;
    EXPECT_LT(gap_ms, 1500.0) << "point " << i;
  }
  EXPECT_EQ(capture_->stats().app_points, app.size());
  EXPECT_TRUE(capture_->stats().last_warning.empty()) << capture_->stats().last_warning;
  // Each point ran pre then post, and their output is in the log.
  std::string ran = ReadAll(hooks);
  EXPECT_NE(ran.find("pre\npost\npre\npost\n"), std::string::npos) << ran;
  EXPECT_NE(log.find("pre hook; output: froze the database"), std::string::npos)
      << log.substr(0, 2000);
  EXPECT_NE(log.find("post hook; output: thawed the database"), std::string::npos)
      << log.substr(0, 2000);
  EXPECT_LT(slowest_write_ms, 500);
}

TEST_F(AppPointTest, AFailingHookGivesACrashConsistentPointAndAWarning) {
  auto co = CaptureOpts();
  co.pre_hook = "echo cannot freeze: database busy; exit 3";
  co.post_hook = "true";
  co.app_point_interval_ms = 400;
  ::testing::internal::CaptureStderr();
  StartAgent(co, SenderOpts());
  RawNbdClient c;
  ASSERT_TRUE(c.Connect(capture_->port()).ok());
  ASSERT_TRUE(c.Write(0, std::string(4096, 'a')).ok());
  // Writes go on while hooks fail (each fallback point is at a new seq).
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; PointsOf(store::PointKind::kCrash, "app-hook-failed").size() < 2 &&
                  std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20);
       ++i) {
    ASSERT_TRUE(c.Write(uint64_t(i % 64) * 4096, std::string(4096, char('c' + i % 20))).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(PointsOf(store::PointKind::kCrash, "app-hook-failed").size(), 2u)
      << "fallbacks " << capture_->stats().app_fallbacks
      << ", warning: " << capture_->stats().last_warning;
  // Writes go on while hooks fail.
  ASSERT_TRUE(c.Write(4096, std::string(4096, 'b')).ok());
  auto st = capture_->stats();
  EXPECT_GE(st.app_fallbacks, 2u);
  EXPECT_EQ(st.app_points, 0u);
  EXPECT_NE(st.last_warning.find("pre hook"), std::string::npos) << st.last_warning;
  EXPECT_NE(st.last_warning.find("crash-consistent"), std::string::npos) << st.last_warning;
  EXPECT_TRUE(PointsOf(store::PointKind::kApp, "scheduled").empty());
  capture_->Stop();
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("cannot freeze: database busy"), std::string::npos) << log.substr(0, 2000);
  // The replica holds every write (nothing stalled).
  StartAgent();
  ExpectReplicaEqualsImage();
}

}  // namespace
}  // namespace lifeline
