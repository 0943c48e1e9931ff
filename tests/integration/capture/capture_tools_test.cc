// nbd-mode capture driven by real clients from Debian packages (qemu-img, qemu-io,
// nbdcopy, nbdinfo, fio's nbd engine) through the agent's NBD URL; every test then checks
// the vault's replica byte for byte, at the newest seq and at earlier points in time.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "agent/dirty_bitmap.h"
#include "capture_fixture.h"
#include "common/clock.h"

namespace lifeline {
namespace {

using namespace capture_testing;

class CaptureToolsTest : public CaptureFixture {
 protected:
  void SetUp() override {
    for (const char* tool : {"qemu-img", "qemu-io", "nbdcopy", "nbdinfo", "fio", "cmp"}) RequireTool(tool);
    CaptureFixture::SetUp();
  }
  // 16 MiB random data, a 16 MiB hole, 1 MiB of 'Z', the rest hole.
  std::string MakeSource() {
    std::string src = dir_ + "/src.img";
    Ok("truncate -s 64M " + src + " && head -c 16M /dev/urandom | dd of=" + src +
       " conv=notrunc status=none && head -c 1M /dev/zero | tr '\\0' 'Z' | dd of=" + src +
       " bs=1M seek=32 conv=notrunc status=none");
    return src;
  }
  // Protects the disk, makes the writes in `qemu_io_commands` through the agent, waits until
  // the vault holds them and stops the agent.
  void ReplicateThenStop(const std::string& qemu_io_commands) {
    StartAgent();
    Ok("qemu-io -f raw " + qemu_io_commands + " -c flush " + capture_->url());
    ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
    capture_.reset();
    sender_.reset();
  }
};

TEST_F(CaptureToolsTest, QemuImgAndQemuIoThroughTheAgentReplicaIsByteExact) {
  StartAgent();
  std::string url = capture_->url();
  ASSERT_EQ(url.rfind("nbd://127.0.0.1:", 0), 0u) << url;
  std::string src = MakeSource();
  Ok("qemu-img convert -n -f raw -O raw " + src + " " + url);
  Ok("cmp " + src + " " + image_);
  ExpectReplicaEqualsImage();
  Ok("qemu-io -f raw -c 'write -P 0xa1 0 64k' -c 'write -P 0xb2 1M 1M' -c 'write -P 0xc3 3000 5000' "
     "-c 'write -z 1088k 64k' -c 'write -P 0xd4 10M 4M' -c 'discard 11M 1M' -c flush " + url);
  CommandResult r = Ok("qemu-io -f raw -c 'read -P 0xa1 0 3000' -c 'read -P 0xc3 3000 5000' "
                       "-c 'read -P 0xb2 1M 64k' -c 'read -P 0 1088k 64k' -c 'read -P 0xd4 10M 1M' " + url);
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
  std::string back = dir_ + "/back.img";
  Ok("qemu-img convert -f raw -O raw " + url + " " + back);
  Ok("cmp " + image_ + " " + back);
  ExpectReplicaEqualsImage();
  auto stats = capture_->stats();
  EXPECT_GT(stats.queue.records, 6u);
  EXPECT_EQ(stats.queue.state, agent::CaptureState::kStreaming);
  EXPECT_EQ(stats.acked_seq, stats.queue.last_seq);
}

// Any seq is a point in time: write a sequence of overlapping patterns, remember the seq
// and the time after each, then read the replica at each of them.
TEST_F(CaptureToolsTest, PointInTimeAtEverySeqAndTime) {
  StartAgent();
  std::string url = capture_->url();
  constexpr size_t kRegion = 2u << 20;
  std::string model(kRegion, '\0');
  struct Step {
    uint64_t seq;
    int64_t time_ns;
    std::string expect;
  };
  std::vector<Step> steps;
  for (int i = 0; i < 8; ++i) {
    uint8_t pattern = uint8_t(0x11 * (i + 1));
    uint64_t off = uint64_t(i) * 128 * 1024 + (i % 3) * 512;
    uint64_t len = 512 * 1024;
    Ok("qemu-io -f raw -c 'write -P " + std::to_string(pattern) + " " + std::to_string(off) + " " +
       std::to_string(len) + "' " + url);
    std::memset(model.data() + off, pattern, len);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    steps.push_back({capture_->queue()->last_seq(), Clock::System()->NowUnixNanos(), model});
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string got(kRegion, '\0');
    ASSERT_TRUE(Replica()->ReadAt(steps[i].seq, 0, got.data(), kRegion).ok());
    EXPECT_TRUE(got == steps[i].expect) << "replica at seq " << steps[i].seq << " (step " << i << ") differs";
    auto seq = Replica()->SeqAtOrBefore(steps[i].time_ns);
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_EQ(*seq, steps[i].seq) << "step " << i;
    ASSERT_TRUE(Replica()->ReadAt(*seq, 0, got.data(), kRegion).ok());
    EXPECT_TRUE(got == steps[i].expect) << "replica at time of step " << i << " differs";
  }
  // The check can fail: step 3's state is not step 4's.
  EXPECT_NE(steps[3].expect, steps[4].expect);
}

TEST_F(CaptureToolsTest, NbdcopyNbdinfoAndFioVerifyThenReplicaIsByteExact) {
  StartAgent();
  std::string url = capture_->url();
  CommandResult info = Ok("nbdinfo " + url);
  EXPECT_NE(info.output.find(std::to_string(kDisk)), std::string::npos) << info.output;
  std::string src = MakeSource();
  Ok("nbdcopy --connections=4 --requests=16 " + src + " " + url);
  Ok("cmp " + src + " " + image_);
  for (const char* job : {"--rw=randwrite --bs=4k --iodepth=32", "--rw=randrw --bsrange=512-256k --iodepth=16",
                          "--rw=write --bs=1M --iodepth=8"}) {
    CommandResult r = Shell(std::string("fio --name=v --ioengine=nbd --uri=") + url + " " + job +
                            " --size=32M --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_backlog=1024"
                            " --verify_state_save=0 --output-format=terse");
    EXPECT_EQ(r.exit_code, 0) << job << "\n" << r.output;
    EXPECT_EQ(r.output.find("verify"), std::string::npos) << r.output;
  }
  ExpectReplicaEqualsImage();
}

// Periodic crash-consistent points arrive at the vault on their own.
TEST_F(CaptureToolsTest, PeriodicPointsAndAppPointWithHooks) {
  auto co = CaptureOpts();
  co.point_interval_ms = 200;
  co.pre_hook = "echo pre >> " + dir_ + "/hooks.log";
  co.post_hook = "echo post >> " + dir_ + "/hooks.log";
  StartAgent(co, SenderOpts());
  std::string url = capture_->url();
  Ok("qemu-io -f raw -c 'write -P 0x42 0 1M' " + url);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Ok("qemu-io -f raw -c 'write -P 0x43 1M 1M' " + url);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Ok("qemu-io -f raw -c 'write -P 0x44 2M 1M' " + url);
  auto app = capture_->TakeAppPoint("before-upgrade");
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE(sender_->WaitPointConfirmed(*app, 10000).ok());
  EXPECT_EQ(ReadAll(dir_ + "/hooks.log"), "pre\npost\n");
  // Confirmation is per seq: a periodic point at the same seq may have been confirmed first.
  std::vector<store::RecoveryPoint> points;
  for (int i = 0; i < 100; ++i) {
    points = Replica()->Points();
    bool app_in = false;
    for (const auto& p : points) app_in |= p.label == "before-upgrade";
    if (app_in) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int crash = 0, app_points = 0;
  std::set<uint64_t> crash_seqs;
  for (const auto& p : points) {
    if (p.kind == store::PointKind::kCrash) {
      ++crash;
      EXPECT_TRUE(crash_seqs.insert(p.seq).second) << "a second periodic point at seq " << p.seq << " while idle";
    }
    if (p.kind == store::PointKind::kApp && p.label == "before-upgrade" && p.seq == *app) ++app_points;
  }
  std::string listing;
  for (const auto& p : points) listing += std::to_string(p.seq) + ":" + std::string(store::PointKindName(p.kind)) + ":" + p.label + " ";
  // One after each write; the third write's may or may not beat the app point.
  EXPECT_GE(crash, 2) << listing;
  EXPECT_LE(crash, 3) << listing;
  EXPECT_EQ(app_points, 1) << listing;
}

// Back-pressure: with the vault down, writes fill the memory buffer, then the spill file,
// then go to the dirty bitmap; the VM never waits. When the vault is back the agent sends
// what was queued, resyncs the dirty blocks and takes a point.
TEST_F(CaptureToolsTest, VaultDownMemoryThenSpillThenBitmapThenResync) {
  auto co = CaptureOpts();
  co.queue.max_memory_bytes = 1u << 20;
  co.queue.max_spill_bytes = 2u << 20;
  auto so = SenderOpts();
  so.max_window_bytes = 1u << 20;
  so.codec = Codec::kNone;  // patterns compress to nothing: keep the window's bytes real
  StartAgent(co, so);
  std::string url = capture_->url();
  Ok("qemu-io -f raw -c 'write -P 0x31 0 4M' -c flush " + url);
  ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
  service_.reset();  // the link is gone
  std::string cmds;
  for (int i = 0; i < 64; ++i) cmds += " -c 'write -P " + std::to_string(0x40 + i) + " " + std::to_string(i * 256 * 1024) + " 256k'";
  auto t0 = std::chrono::steady_clock::now();
  Ok("qemu-io -f raw" + cmds + " -c flush " + url);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 10.0) << "the VM must not wait on the link";
  auto st = capture_->stats();
  EXPECT_EQ(st.queue.state, agent::CaptureState::kBitmap) << agent::CaptureStateName(st.queue.state);
  EXPECT_GT(st.queue.dirty_blocks, 0u);
  EXPECT_GE(st.queue.bitmap_entries, 1u);
  EXPECT_GT(st.queue.spill_bytes, 0u) << "the spill file holds what memory could not";
  EXPECT_FALSE(capture_->TakePoint(wire::PointKind::kUser, "during-bitmap").ok()) << "no point while order is lost";
  StartVault(port_);  // the link is back
  ExpectReplicaEqualsImage();
  st = capture_->stats();
  EXPECT_EQ(st.queue.state, agent::CaptureState::kStreaming);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  bool resync_point = false;
  for (const auto& p : Replica()->Points()) resync_point |= p.label == "resync";
  EXPECT_TRUE(resync_point) << "a point follows the resync";
}

// Writes acknowledged to the client (FLUSH) but not to the vault survive an agent crash:
// the dirty bitmap written at the flush is all a restart needs.
TEST_F(CaptureToolsTest, AgentRestartDeliversWritesTheVaultNeverAcknowledged) {
  StartAgent();
  std::string url = capture_->url();
  Ok("qemu-io -f raw -c 'write -P 0x61 0 2M' -c flush " + url);
  ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
  service_.reset();
  Ok("qemu-io -f raw -c 'write -P 0x62 1M 3M' -c 'write -P 0x63 40M 64k' -c flush " + url);
  // The bitmap as the flush left it: what a crash right after the reply would leave.
  std::string bitmap = dir_ + "/agent-state/dirty.bitmap";
  Ok("cp " + bitmap + " " + dir_ + "/bitmap.at-flush");
  capture_.reset();
  sender_.reset();
  Ok("cp " + dir_ + "/bitmap.at-flush " + bitmap);
  EXPECT_LT(Replica()->durable_seq(), 3u) << "the vault must not have the second writes yet";
  StartVault(port_);
  StartAgent();
  ExpectReplicaEqualsImage();
  std::string got(64 * 1024, '\0');
  ASSERT_TRUE(Replica()->ReadAt(Replica()->durable_seq(), 40u << 20, got.data(), got.size()).ok());
  EXPECT_EQ(got, std::string(64 * 1024, char(0x63)));
}

// A failback writes the original disk without the agent seeing it: a new resync epoch from
// the vault makes the agent compare every block's hash with the replica (holes too: the
// replica holds older data there) and send only those that differ, once; the same epoch
// after a restart sends nothing more.
TEST_F(CaptureToolsTest, ANewResyncEpochSendsOnlyTheBlocksChangedBehindTheAgent) {
  ReplicateThenStop("-c 'write -P 0x61 0 2M' -c 'write -P 0x62 30M 8M'");
  // Behind the agent's back: new data at 20 MiB, a hole punched where the replica has data.
  Ok("dd if=/dev/zero bs=1M count=1 status=none | tr '\\000' '\\161' | dd of=" + image_ +
     " bs=1M seek=20 conv=notrunc,fsync status=none");
  Ok("fallocate --punch-hole --offset 0 --length 1048576 " + image_);
  // Without a new epoch the agent cannot know: the replica keeps the old bytes.
  StartAgent();
  ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
  std::string got(64 * 1024, '\0');
  ASSERT_TRUE(Replica()->ReadAt(Replica()->durable_seq(), 20u << 20, got.data(), got.size()).ok());
  EXPECT_EQ(got, std::string(64 * 1024, '\0')) << "the agent saw a write it did not serve";
  capture_.reset();
  sender_.reset();
  agent::NbdCaptureOptions co = CaptureOpts();
  co.resync_epoch = 7;
  StartAgent(co, SenderOpts());
  ExpectReplicaEqualsImage();
  agent::NbdCaptureStats st = capture_->stats();
  EXPECT_TRUE(st.hash_resync_done);
  EXPECT_EQ(st.compare.blocks_compared, kDisk / (64 * 1024)) << "every block, holes included";
  EXPECT_EQ(st.compare.blocks_changed, 32u) << "1 MiB written and 1 MiB punched behind the agent";
  EXPECT_EQ(st.resync_bytes, 2u << 20);
  bool resync_point = false;
  for (const auto& p : Replica()->Points()) resync_point |= p.label == "resync";
  EXPECT_TRUE(resync_point) << "a point follows the resync";
  capture_.reset();
  sender_.reset();
  StartAgent(co, SenderOpts());
  EXPECT_EQ(capture_->stats().queue.dirty_blocks, 0u) << "the same epoch must not resync again";
  EXPECT_FALSE(capture_->stats().hash_resync);
  EXPECT_TRUE(capture_->stats().initial_complete);
}

// The machine writes all over the disk while the comparison runs (one block per step, so it
// lasts): every write reaches the replica, whichever side of a block's hashing it lands on.
TEST_F(CaptureToolsTest, WritesDuringAResyncByHashesAllReachTheReplica) {
  ReplicateThenStop("-c 'write -P 0x61 0 16M'");
  Ok("dd if=/dev/urandom bs=64k count=3 seek=7 of=" + image_ + " conv=notrunc status=none");
  agent::NbdCaptureOptions co = CaptureOpts();
  co.resync_epoch = 8;
  co.compare_batch_blocks = 1;
  StartAgent(co, SenderOpts());
  // Writes of 4 KiB..200 KiB over the whole disk, each in its own qemu-io run, until the
  // comparison ends (bounded).
  int runs = 0, during = 0;
  for (; runs < 60; ++runs) {
    bool comparing = capture_->stats().queue.state == agent::CaptureState::kResync;
    during += comparing;
    if (!comparing && runs >= 10) break;
    uint64_t off = (uint64_t(runs) * 1040383) % (kDisk - (256u << 10));
    Ok("qemu-io -f raw -c 'write -P " + std::to_string(0x20 + runs) + " " + std::to_string(off) +
       " " + std::to_string(4096 * (1 + runs % 50)) + "' -c 'write -P 0x7e " +
       std::to_string(kDisk / 2 + off / 2) + " 4k' " + capture_->url());
  }
  std::printf("%d client runs, %d of them while the resync ran\n", runs, during);
  EXPECT_GT(during, 0) << "no write raced with the resync: the test proves nothing";
  ExpectReplicaEqualsImage();
  EXPECT_GE(capture_->stats().compare.blocks_changed, 3u);
}

// A comparison interrupted by a restart resumes from the position in capture.state when
// the dirty bitmap file (which holds what it found below that position) is valid, and
// starts over without it (the safe fallback).
TEST_F(CaptureToolsTest, AnInterruptedResyncByHashesResumesOrStartsOver) {
  ReplicateThenStop("-c 'write -P 0x61 0 1M'");  // leaves a valid, clean dirty.bitmap
  Ok("printf x | dd of=" + image_ + " bs=1 seek=" + std::to_string(100 * 65536) +
     " conv=notrunc status=none");
  Ok("printf y | dd of=" + image_ + " bs=1 seek=" + std::to_string(800 * 65536) +
     " conv=notrunc status=none");
  const std::string state = dir_ + "/agent-state/capture.state";
  auto interrupted_at_512 = [&] {
    std::ofstream(state)
        << "initial_complete=0\ninitial_started=0\ninitial_blocks=0\nresync_epoch=0\n"
           "hash_resync=1\ncompare_next_block=512\n";
  };
  interrupted_at_512();
  StartAgent();
  ASSERT_TRUE(capture_->WaitCaughtUp(30000).ok());
  EXPECT_EQ(capture_->stats().compare.blocks_compared, 512u) << "resumed at block 512";
  EXPECT_EQ(capture_->stats().compare.blocks_changed, 1u)
      << "block 100 was compared before the restart";
  capture_.reset();
  sender_.reset();
  // No bitmap, and a state that says the bitmap tracks the copy (an initial copy was
  // interrupted): the comparison starts over, and the state must stop saying so until it
  // ends, or a restart meanwhile would resume sending and skip the blocks not compared.
  std::ofstream(state)
      << "initial_complete=0\ninitial_started=1\ninitial_blocks=0\nresync_epoch=0\n"
         "hash_resync=1\ncompare_next_block=512\n";
  std::filesystem::remove(dir_ + "/agent-state/dirty.bitmap");
  agent::NbdCaptureOptions one_block_steps = CaptureOpts();
  one_block_steps.compare_batch_blocks = 1;
  StartAgent(one_block_steps, SenderOpts());
  std::string during = ReadAll(state);
  EXPECT_TRUE(during.find("initial_started=0") != std::string::npos ||
              during.find("initial_complete=1") != std::string::npos)
      << during;
  ExpectReplicaEqualsImage();
  EXPECT_EQ(capture_->stats().compare.blocks_compared, 1024u)
      << "no bitmap: the comparison starts over";
  EXPECT_EQ(capture_->stats().compare.blocks_changed, 1u) << "only block 100 still differs";
  // Interrupted after the comparison, while sending what it found (block 900): the restart
  // compares nothing and sends what the bitmap holds.
  capture_.reset();
  sender_.reset();
  Ok("printf z | dd of=" + image_ + " bs=1 seek=" + std::to_string(900 * 65536) +
     " conv=notrunc status=none");
  std::ofstream(state)
      << "initial_complete=0\ninitial_started=1\ninitial_blocks=0\nresync_epoch=0\n"
         "hash_resync=1\ncompare_next_block=1024\n";
  std::vector<uint8_t> bits(kDisk / 65536, 0);
  bits[900] = 1;
  std::ofstream(dir_ + "/agent-state/dirty.bitmap", std::ios::binary)
      << agent::EncodeDirtyBitmap(agent::DirtyBitmap{65536, bits});
  StartAgent();
  ExpectReplicaEqualsImage();
  EXPECT_EQ(capture_->stats().compare.blocks_compared, 0u) << "nothing compared again";
  EXPECT_EQ(capture_->stats().compare.blocks_changed, 1u) << "block 900, left to send";
  EXPECT_EQ(capture_->stats().resync_bytes, 65536u);
}

}  // namespace
}  // namespace lifeline
