// Scan-mode capture: for disks the agent cannot sit in front of. Initial replication reads
// the whole disk (holes and zero blocks become ZERO records, never data) and is resumable
// from its last acknowledged checkpoint; each later cycle runs the optional pre hook, reads
// the disk in large sequential reads, hashes fixed blocks (64 KiB), sends the blocks whose
// hash changed, waits for the vault's acknowledgement, takes a recovery point and runs the
// post hook. The block hash map is persisted (and updated only for acknowledged blocks);
// if it is lost, a resync compares block hashes with the replica and sends only the
// blocks that differ. Thread-compatible: one capture per disk, driven by one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/disk_sender.h"
#include "common/fs.h"

namespace lifeline::agent {

struct ScanOptions {
  std::string disk_path;
  std::string state_dir;             // hash map and progress live here
  uint32_t block_bytes = 64 * 1024;
  uint32_t read_bytes = 4u << 20;    // one sequential read
  uint32_t max_record_bytes = 1u << 20;
  std::string pre_hook;              // shell command run before each cycle (freeze); empty: none
  std::string post_hook;             // run after the point (thaw)
  int64_t hook_timeout_ms = 60000;
};

struct ScanProgress {
  std::string phase;                 // initial-replication, resync, cycle, idle
  uint64_t bytes_done = 0;           // of the disk read in this phase
  uint64_t bytes_total = 0;
  uint64_t bytes_sent = 0;           // raw bytes of data records sent in this phase
  uint64_t blocks_changed = 0;
  double seconds = 0;
  uint64_t point_seq = 0;            // the point the phase ended with
};

using ScanProgressFn = std::function<void(const ScanProgress&)>;

class ScanCapture {
 public:
  ScanCapture(ScanOptions options, DiskSender* sender);

  // Brings the replica up to date: initial replication (resumed if interrupted), or a
  // resync when the hash map is gone but the replica exists, or one scan cycle. Ends with a
  // recovery point (app-consistent when hooks are set) and returns the phase's figures.
  Result<ScanProgress> RunOnce(const ScanProgressFn& progress = {});
  bool initial_complete() const { return initial_complete_; }
  // Non-zero once RunOnce found the disk larger than when this capture began: the new size.
  uint64_t grown_to() const { return grown_to_; }

 private:
  enum class Mode { kInitial, kResync, kCycle };
  Status LoadState();
  Status SaveState();
  Result<ScanProgress> Run(Mode mode, const ScanProgressFn& progress);
  Status RunHook(const std::string& command, const char* which);

  const ScanOptions options_;
  DiskSender* const sender_;
  FileSystem* fs_;
  uint64_t disk_size_ = 0;
  uint64_t grown_to_ = 0;
  std::vector<uint64_t> hashes_;     // per block; valid for blocks below hashed_until_
  uint64_t hashed_until_ = 0;        // bytes of the disk whose hashes are acknowledged
  bool initial_complete_ = false;
  bool state_loaded_ = false;
  uint64_t next_seq_ = 0;
};

// Runs `command` with /bin/sh -c, killing its process group after `timeout_ms`. With
// `output`, its stdout and stderr are collected there (the first kMaxHookOutputBytes).
inline constexpr size_t kMaxHookOutputBytes = 4096;
Status RunShellHook(const std::string& command, int64_t timeout_ms,
                    const std::vector<std::pair<std::string, std::string>>& env, std::string* output = nullptr);

}  // namespace lifeline::agent
