#include "agent/scan_capture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/bytes.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/log.h"

namespace lifeline::agent {

namespace {
constexpr char kLog[] = "agent";
constexpr uint32_t kStateMagic = 0x53484c4c;  // "LLHS"
constexpr uint32_t kStateVersion = 1;
constexpr uint64_t kMaxZeroRecordBytes = 32u << 20;

// Monotonic source times: a point lookup by time relies on times that never go back.
int64_t SourceTime() {
  static std::atomic<int64_t> last{0};
  int64_t now = Clock::System()->NowUnixNanos();
  int64_t prev = last.load();
  while (true) {
    int64_t t = std::max(now, prev);
    if (last.compare_exchange_weak(prev, t)) return t;
  }
}
uint64_t ZeroBlockHash(uint64_t bytes) {
  std::string zeros(bytes, '\0');
  return Xxh3(zeros.data(), zeros.size());
}
}  // namespace

ScanCapture::ScanCapture(ScanOptions options, DiskSender* sender)
    : options_(std::move(options)), sender_(sender), fs_(FileSystem::Posix()) {}

// State file: magic, version, block size, disk size, initial_complete, hashed_until, block
// count, the hashes, then an xxh3 of everything before it.
Status ScanCapture::LoadState() {
  LL_RETURN_IF_ERROR(fs_->MakeDirs(options_.state_dir));
  std::string path = JoinPath(options_.state_dir, "scan-state");
  if (!fs_->Exists(path)) return Status::Ok();
  auto data = ReadWholeFile(fs_, path, 1ull << 32);
  if (!data.ok()) return data.status();
  const std::string& s = *data;
  if (s.size() < 8 || Xxh3(s.data(), s.size() - 8) != GetLE64(reinterpret_cast<const uint8_t*>(s.data() + s.size() - 8))) {
    log::Warn(kLog, path + " is damaged; the disk will be resynced against the replica");
    return Status::Ok();
  }
  ByteReader r(s.data(), s.size() - 8);
  if (r.U32() != kStateMagic || r.U32() != kStateVersion) return Status::Ok();
  uint32_t block = r.U32();
  uint64_t size = r.U64();
  bool complete = r.U8() != 0;
  uint64_t hashed = r.U64();
  uint64_t count = r.U64();
  if (!r.ok() || block != options_.block_bytes || size != disk_size_ || count != hashes_.size()) {
    log::Warn(kLog, path + " does not match the disk (size or block size changed); resyncing");
    return Status::Ok();
  }
  for (auto& h : hashes_) h = r.U64();
  if (!r.ok()) return Status::Ok();
  initial_complete_ = complete;
  hashed_until_ = hashed;
  state_loaded_ = true;
  return Status::Ok();
}

Status ScanCapture::SaveState() {
  std::string s;
  ByteWriter w(&s);
  w.U32(kStateMagic);
  w.U32(kStateVersion);
  w.U32(options_.block_bytes);
  w.U64(disk_size_);
  w.U8(initial_complete_ ? 1 : 0);
  w.U64(hashed_until_);
  w.U64(hashes_.size());
  for (uint64_t h : hashes_) w.U64(h);
  w.U64(Xxh3(s));
  return WriteFileAtomic(fs_, JoinPath(options_.state_dir, "scan-state"), s);
}

Result<ScanProgress> ScanCapture::RunOnce(const ScanProgressFn& progress) {
  LL_ASSIGN_OR_RETURN(auto disk, fs_->Open(options_.disk_path, OpenMode::kRead));
  LL_ASSIGN_OR_RETURN(uint64_t size, disk->Size());
  if (disk_size_ != 0 && size > disk_size_) {
    grown_to_ = size;  // the owner reconnects with the new size and starts a new capture
    return Status::FailedPrecondition(options_.disk_path + " grew from " + std::to_string(disk_size_) + " to " +
                                      std::to_string(size) + " bytes");
  }
  if (disk_size_ != 0 && size != disk_size_)
    return Status::FailedPrecondition(options_.disk_path + " shrank from " + std::to_string(disk_size_) + " to " +
                                      std::to_string(size) +
                                      " bytes: a replica never shrinks (its points would lose data); "
                                      "re-protect the disk");
  if (disk_size_ == 0) {
    disk_size_ = size;
    hashes_.assign((size + options_.block_bytes - 1) / options_.block_bytes, 0);
    LL_RETURN_IF_ERROR(LoadState());
  }
  next_seq_ = std::max(next_seq_, sender_->acked_seq() + 1);
  if (!state_loaded_) {
    // No usable hash map. If the replica already holds data, compare hashes instead of
    // sending the whole disk again.
    Mode mode = sender_->acked_seq() > 0 ? Mode::kResync : Mode::kInitial;
    state_loaded_ = true;
    return Run(mode, progress);
  }
  return Run(initial_complete_ ? Mode::kCycle : Mode::kInitial, progress);
}

Result<ScanProgress> ScanCapture::Run(Mode mode, const ScanProgressFn& progress) {
  auto start = std::chrono::steady_clock::now();
  ScanProgress p;
  p.phase = mode == Mode::kInitial ? "initial-replication" : mode == Mode::kResync ? "resync" : "cycle";
  p.bytes_total = disk_size_;
  bool hooks = !options_.pre_hook.empty() || !options_.post_hook.empty();
  if (mode == Mode::kCycle && !options_.pre_hook.empty()) LL_RETURN_IF_ERROR(RunHook(options_.pre_hook, "pre"));
  LL_ASSIGN_OR_RETURN(auto disk, fs_->Open(options_.disk_path, OpenMode::kRead));
  uint64_t from = mode == Mode::kInitial ? hashed_until_ / options_.read_bytes * options_.read_bytes : 0;
  if (mode == Mode::kInitial && from > 0)
    log::Info(kLog, options_.disk_path + ": resuming initial replication at " + std::to_string(from) + " bytes");
  std::vector<uint64_t> fresh(hashes_.size());
  // Checkpoints (end offset of a submitted range, its seq): the acknowledged prefix of the
  // disk is the last checkpoint at or below the acknowledged seq.
  std::vector<std::pair<uint64_t, uint64_t>> checkpoints;
  std::string buf(options_.read_bytes, '\0');
  uint64_t blocks_per_read = options_.read_bytes / options_.block_bytes;
  uint64_t last_save = 0;  // bytes_sent at the last state save
  auto submit_run = [&](uint64_t off, const char* data, uint64_t len, bool zero) -> Status {
    uint64_t seq = next_seq_++;
    Status s;
    if (zero) s = sender_->SubmitZero(seq, off, len, wire::WriteKind::kZero, SourceTime());
    else {
      s = sender_->SubmitData(seq, off, std::make_shared<const std::string>(data, len), SourceTime());
      p.bytes_sent += len;
    }
    checkpoints.emplace_back(off + len, seq);
    return s;
  };
  // Holes are never read: a block the file system reports as unallocated reads as zeros,
  // so its hash is known. Reading them would only make the kernel zero-fill page cache.
  std::pair<uint64_t, uint64_t> extent{from, from};  // the data extent at or after the window
  std::vector<char> has_data(blocks_per_read);
  const uint64_t zero_block_hash = ZeroBlockHash(options_.block_bytes);
  for (uint64_t off = from; off < disk_size_; off += options_.read_bytes) {
    size_t n = size_t(std::min<uint64_t>(options_.read_bytes, disk_size_ - off));
    uint64_t first_block = off / options_.block_bytes;
    uint64_t window_end = off + n;
    std::fill(has_data.begin(), has_data.end(), 0);
    while (extent.first < window_end) {
      if (extent.second <= off || extent.first == extent.second) {
        LL_ASSIGN_OR_RETURN(extent, disk->NextData(std::max(off, extent.second)));
        if (extent.first >= disk_size_) extent = {disk_size_, disk_size_};
        continue;
      }
      uint64_t a = std::max(extent.first, off), z = std::min(extent.second, window_end);
      for (uint64_t b = (a - off) / options_.block_bytes; b <= (z - 1 - off) / options_.block_bytes; ++b) has_data[b] = 1;
      if (extent.second > window_end) break;  // the extent goes on into the next window
      extent.first = extent.second;           // look for the next one
    }
    // Read each run of blocks that hold data with one read.
    for (uint64_t b = 0; b * options_.block_bytes < n;) {
      if (!has_data[b]) {
        ++b;
        continue;
      }
      uint64_t e = b;
      while (e * options_.block_bytes < n && has_data[e]) ++e;
      uint64_t roff = b * options_.block_bytes;
      size_t rlen = size_t(std::min<uint64_t>(e * options_.block_bytes, n) - roff);
      LL_ASSIGN_OR_RETURN(size_t got, disk->ReadAt(off + roff, buf.data() + roff, rlen));
      if (got != rlen) return Status::IOError(options_.disk_path + ": short read at " + std::to_string(off + roff));
      b = e;
    }
    std::vector<uint64_t> replica;
    if (mode == Mode::kResync) {
      uint32_t count = uint32_t((n + options_.block_bytes - 1) / options_.block_bytes);
      LL_ASSIGN_OR_RETURN(replica, sender_->ReplicaHashes(options_.block_bytes, first_block, count, 60000));
    }
    // Runs of changed blocks: data runs up to max_record_bytes, zero runs up to 32 MiB.
    uint64_t run_off = 0, run_len = 0;
    bool run_zero = false;
    auto flush = [&]() -> Status {
      if (run_len == 0) return Status::Ok();
      Status s = submit_run(run_off, buf.data() + (run_off - off), run_len, run_zero);
      run_len = 0;
      return s;
    };
    for (uint64_t b = 0; b * options_.block_bytes < n && b < blocks_per_read; ++b) {
      uint64_t boff = off + b * options_.block_bytes;
      size_t blen = size_t(std::min<uint64_t>(options_.block_bytes, disk_size_ - boff));
      const char* data = buf.data() + b * options_.block_bytes;
      bool zero = !has_data[b];
      uint64_t h;
      if (zero) {
        h = blen == options_.block_bytes ? zero_block_hash : ZeroBlockHash(blen);
      } else {
        h = Xxh3(data, blen);
        zero = IsAllZero(data, blen);
      }
      fresh[first_block + b] = h;
      bool changed;
      if (mode == Mode::kInitial) changed = !zero;  // a new replica reads zeros already
      else if (mode == Mode::kResync) changed = b >= replica.size() || replica[b] != h;
      else changed = hashes_[first_block + b] != h;
      if (!changed) {
        LL_RETURN_IF_ERROR(flush());
        continue;
      }
      ++p.blocks_changed;
      uint64_t cap = zero ? kMaxZeroRecordBytes : options_.max_record_bytes;
      // Runs never cross a read (flush below), so data always comes from `buf`.
      bool extends = run_len > 0 && run_zero == zero && run_off + run_len == boff && run_len + blen <= cap;
      if (!extends) {
        LL_RETURN_IF_ERROR(flush());
        run_off = boff;
        run_zero = zero;
      }
      run_len += blen;
    }
    LL_RETURN_IF_ERROR(flush());
    p.bytes_done = off + n;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(p);
    // Initial replication: record how far the vault has acknowledged, so a restart resumes.
    // Every 256 MiB sent (the state file holds every block hash, 128 KiB per GiB of disk:
    // saving it per 256 MiB of holes read would cost more than reading them again).
    if (mode == Mode::kInitial && p.bytes_sent - last_save >= (256u << 20)) {
      uint64_t acked = sender_->acked_seq();
      uint64_t safe = p.bytes_done;  // everything read so far, if every range sent is acknowledged
      if (!checkpoints.empty() && checkpoints.back().second > acked) {
        safe = hashed_until_;
        for (auto& [end, seq] : checkpoints)
          if (seq <= acked) safe = end;
      }
      for (uint64_t b = hashed_until_ / options_.block_bytes; b < safe / options_.block_bytes; ++b) hashes_[b] = fresh[b];
      hashed_until_ = safe;
      LL_RETURN_IF_ERROR(SaveState());
      last_save = p.bytes_sent;
    }
  }
  // Everything sent must be durable before the point and before the hash map moves on.
  uint64_t last_seq = next_seq_ - 1;
  if (last_seq > 0) LL_RETURN_IF_ERROR(sender_->WaitAcked(last_seq, 24 * 3600 * 1000LL));
  wire::PointMsg point;
  point.seq = last_seq;
  point.kind = (mode == Mode::kCycle && hooks) ? wire::PointKind::kApp : wire::PointKind::kCrash;
  point.time_ns = SourceTime();
  point.label = mode == Mode::kCycle ? "" : p.phase;
  if (last_seq > 0) {
    LL_RETURN_IF_ERROR(sender_->SubmitPoint(point));
    LL_RETURN_IF_ERROR(sender_->WaitPointConfirmed(point.seq, 60000));
  }
  p.point_seq = last_seq;
  if (mode == Mode::kCycle && !options_.post_hook.empty()) LL_RETURN_IF_ERROR(RunHook(options_.post_hook, "post"));
  for (uint64_t b = (mode == Mode::kInitial ? from / options_.block_bytes : 0); b < hashes_.size(); ++b)
    hashes_[b] = fresh[b];
  hashed_until_ = disk_size_;
  initial_complete_ = true;
  LL_RETURN_IF_ERROR(SaveState());
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (progress) progress(p);
  return p;
}

Status ScanCapture::RunHook(const std::string& command, const char* which) {
  Status s = RunShellHook(command, options_.hook_timeout_ms, {{"LIFELINE_DISK_PATH", options_.disk_path},
                                                              {"LIFELINE_HOOK", which}});
  if (!s.ok()) return s.WithContext(std::string(which) + " hook");
  return s;
}

Status RunShellHook(const std::string& command, int64_t timeout_ms,
                    const std::vector<std::pair<std::string, std::string>>& env, std::string* output) {
  int fds[2] = {-1, -1};
  if (output && ::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    if (output) ::close(fds[0]), ::close(fds[1]);
    return Status::FromErrno(errno, "fork");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (output) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
    _exit(127);
  }
  if (output) {
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    output->clear();
  }
  // Reads what the hook wrote so far; past the bound the bytes are read and dropped so the
  // hook never blocks on a full pipe.
  auto drain = [&] {
    if (!output) return;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      size_t room = kMaxHookOutputBytes - std::min(kMaxHookOutputBytes, output->size());
      output->append(buf, std::min(size_t(n), room));
    }
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    drain();
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      drain();
      if (output) ::close(fds[0]);
      return Status::Busy("'" + command + "' did not finish within " + std::to_string(timeout_ms) + " ms");
    }
    ::usleep(10000);
  }
  drain();
  if (output) ::close(fds[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Status::IOError("'" + command + "' failed (exit status " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + ")");
}

}  // namespace lifeline::agent
