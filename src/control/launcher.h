// Launchers start recovered machines at the recovery site. An interface plus a factory by
// name: `qemu` builds a qemu-system-x86_64 command line from a template (disks as NBD URLs
// or image paths, memory, cpus, NICs; `-accel tcg` by default) and `command` runs a user
// command with LIFELINE_MACHINE, LIFELINE_DISK_n, LIFELINE_NIC_n_IP, ... in its environment.
// Thread-safe: launchers keep no mutable state; the registry is filled at startup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace lifeline::control {

// How long qemu waits for an NBD disk's server to come back (a vault restart) before it
// fails the guest's I/O: `file.reconnect-delay` on every NBD drive of the qemu launcher.
inline constexpr int kNbdReconnectDelaySeconds = 120;

struct LaunchDisk {
  std::string nbd_url;     // nbd://host:port/export or nbd+unix:///export?socket=PATH
  std::string image_path;  // used when nbd_url is empty
  std::string format = "raw";
};

struct LaunchNic {
  std::string network;  // target network name
  std::string ip;       // assigned address (netmap.h)
  int prefix_len = 0;
  std::string gateway;
  std::string mac;
};

struct LaunchSpec {
  std::string machine;
  std::string operation;  // drill, failover, failback
  int cpus = 1;
  int memory_mib = 512;
  std::vector<LaunchDisk> disks;
  std::vector<LaunchNic> nics;
  std::string work_dir;  // the launcher's log file goes here
};

struct LaunchHandle {
  pid_t pid = -1;
  std::string log_path;
  std::vector<std::string> argv;
  int64_t started_unix_nanos = 0;
};

struct LaunchStatus {
  bool running = false;
  int exit_code = -1;  // when not running and known
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual Result<LaunchHandle> Start(const LaunchSpec& spec) = 0;
  // SIGTERM to the machine's process group, SIGKILL after `grace_ms`.
  virtual lifeline::Status Stop(const LaunchHandle& handle, int64_t grace_ms);
  virtual Result<LaunchStatus> GetStatus(const LaunchHandle& handle);
};

// Builds the launcher `name` from its JSON configuration (the machine's launcher_config).
using LauncherFactory =
    std::function<Result<std::unique_ptr<Launcher>>(const nlohmann::json& config)>;

class LauncherRegistry {
 public:
  // With `qemu` and `command` registered.
  static LauncherRegistry WithBuiltins();
  lifeline::Status Register(const std::string& name, LauncherFactory factory);
  Result<std::unique_ptr<Launcher>> Create(const std::string& name,
                                           const nlohmann::json& config) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, LauncherFactory> factories_;
};

// qemu launcher configuration (launcher_config of a machine):
//   binary      qemu-system-x86_64
//   accel       tcg (KVM is often unavailable or unreliable in nested setups)
//   template    argument list with placeholders {binary} {machine} {accel} {cpus}
//               {memory_mib} {drives} {nics} {extra}; {drives}/{nics}/{extra} expand to
//               several arguments
//   nic_mode    none | user | bridge (bridge names per network in `bridges`)
//   bridges     {network: bridge}
//   extra_args  appended where {extra} stands
struct QemuConfig {
  std::string binary = "qemu-system-x86_64";
  std::string accel = "tcg";
  std::vector<std::string> template_args;  // empty: the default template
  std::string nic_mode = "none";
  std::map<std::string, std::string> bridges;
  std::vector<std::string> extra_args;
  static Result<QemuConfig> FromJson(const nlohmann::json& config);
};
std::vector<std::string> DefaultQemuTemplate();
Result<std::vector<std::string>> BuildQemuCommand(const LaunchSpec& spec, const QemuConfig& config);

// The environment the command launcher gives its command (also usable by other launchers).
std::vector<std::pair<std::string, std::string>> LaunchEnvironment(const LaunchSpec& spec);

}  // namespace lifeline::control
