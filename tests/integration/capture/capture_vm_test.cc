// A real VM (Linux under qemu TCG) boots with its disk served by the capturing agent over
// NBD and writes to it from inside; the vault's replica must then hold those bytes. The
// kernel comes from `apt-get download linux-image-cloud-amd64` into a cache under the build
// tree (make_test_vm.sh); the test fails loudly if it cannot be fetched.
#include <gtest/gtest.h>

#include <filesystem>

#include "capture_fixture.h"

namespace lifeline {
namespace {

using namespace capture_testing;

TEST_F(CaptureFixture, VmBootsFromTheAgentsNbdDiskAndItsWritesReachTheReplica) {
  for (const char* tool : {"qemu-system-x86_64", "busybox", "cpio", "apt-get", "dpkg-deb", "timeout"}) RequireTool(tool);
  std::string cache = (std::filesystem::path(LIFELINE_BINARY).parent_path().parent_path().parent_path() /
                       "test-cache" / "vm").string();
  std::string script = LIFELINE_SOURCE_DIR "/tests/integration/capture/make_test_vm.sh";
  CommandResult built = Shell(script + " " + cache);
  ASSERT_EQ(built.exit_code, 0) << "cannot build the test VM (kernel download?):\n" << built.output;
  StartAgent();
  std::string cmd = "timeout 90 qemu-system-x86_64 -accel tcg -smp 1 -m 256 -nographic -no-reboot -nic none"
                    " -kernel " + cache + "/vmlinuz -initrd " + cache + "/initramfs.gz"
                    " -append 'console=ttyS0 quiet panic=-1'"
                    " -drive driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port=" +
                    std::to_string(capture_->port()) + ",if=virtio,cache=none </dev/null";
  CommandResult vm = Shell(cmd);
  EXPECT_NE(vm.output.find("LIFELINE-VM-OK"), std::string::npos) << "guest did not report success:\n" << vm.output;
  EXPECT_EQ(vm.output.find("LIFELINE-VM-FAIL"), std::string::npos) << vm.output;
  // The image and the replica hold what the guest wrote.
  std::string image = ReadAll(image_);
  ASSERT_EQ(image.size(), kDisk);
  EXPECT_EQ(image.substr(1u << 20, 4u << 20), std::string(4u << 20, char(0xa7)));
  ExpectReplicaEqualsImage();
  std::string mark(64 * 1024, '\0');
  ASSERT_TRUE(Replica()->ReadAt(Replica()->durable_seq(), 8u << 20, mark.data(), mark.size()).ok());
  EXPECT_EQ(mark.rfind("LIFELINE-GUEST-BLOCK\n", 0), 0u);
  EXPECT_GT(capture_->stats().queue.records, 2u);
}

}  // namespace
}  // namespace lifeline
