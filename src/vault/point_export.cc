#include "vault/point_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/fs.h"
#include "common/units.h"

namespace lifeline::vault {
namespace {

Result<uint64_t> ParseU64(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return Status::InvalidArgument("bad " + what + ": '" + text.substr(0, 64) + "'");
  return v;
}

Status PwriteAll(int fd, const uint8_t* data, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSPC) return Status::NoSpace("overlay: no space left");
      return Status::IOError(std::string("overlay write: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

Status PreadAll(int fd, uint8_t* out, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("overlay read: ") + std::strerror(errno));
    }
    if (r == 0) {  // past the overlay's end: never written there
      std::memset(out, 0, n);
      return Status::Ok();
    }
    out += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

class ControlExporter final : public control::DiskExporter {
 public:
  ControlExporter(PointExports* exports, std::string operation)
      : exports_(exports), operation_(std::move(operation)) {}
  Result<control::LaunchDisk> Export(const control::Machine& machine, const control::Disk& disk,
                                     const std::string& point) override {
    LL_ASSIGN_OR_RETURN(PointExportInfo info,
                        exports_->Export(operation_, machine.name, disk.store_disk_id, point));
    return control::LaunchDisk{info.nbd_url, "", "raw"};
  }
  Status Unexport(const control::Machine& machine, const control::Disk& disk) override {
    return exports_->Unexport(operation_, machine.name, disk.store_disk_id);
  }

 private:
  PointExports* exports_;
  std::string operation_;
};

}  // namespace

Result<ResolvedPoint> ResolvePoint(const store::DiskReplica& replica,
                                   const std::string& choice_in) {
  std::string choice = choice_in.empty() ? "latest-processed" : choice_in;
  const std::string disk = replica.disk_id();
  ResolvedPoint r;
  auto newest = [&](auto pred, const std::string& what) -> Result<ResolvedPoint> {
    std::vector<store::RecoveryPoint> points = replica.Points();
    for (auto it = points.rbegin(); it != points.rend(); ++it) {
      if (pred(*it))
        return ResolvedPoint{it->seq, it->id,
                             what + ": point " + std::to_string(it->id) + " (seq " +
                                 std::to_string(it->seq) + ", " + FormatTime(it->time_unix_ns) +
                                 ")"};
    }
    return Status::NotFound("disk " + disk + " has no " + what + " recovery point");
  };
  if (choice == "latest") {
    r.seq = replica.durable_seq();
    r.description = "latest: seq " + std::to_string(r.seq);
    for (const auto& p : replica.Points())
      if (p.seq == r.seq) r.point_id = p.id;
    return r;
  }
  if (choice == "latest-processed")
    return newest([](const store::RecoveryPoint&) { return true; }, "latest-processed");
  if (choice == "latest-app")
    return newest([](const store::RecoveryPoint& p) { return p.kind == store::PointKind::kApp; },
                  "latest-app");
  if (choice == "latest-group")
    return newest([](const store::RecoveryPoint& p) { return p.group_point_id != 0; },
                  "latest-group");
  if (choice.rfind("seq:", 0) == 0) {
    LL_ASSIGN_OR_RETURN(r.seq, ParseU64(choice.substr(4), "seq"));
    if (r.seq < replica.folded_seq() || r.seq > replica.durable_seq())
      return Status::NotFound(
          "seq " + std::to_string(r.seq) + " of disk " + disk + " is outside the readable range " +
          std::to_string(replica.folded_seq()) + ".." + std::to_string(replica.durable_seq()));
    r.description = "seq " + std::to_string(r.seq);
    return r;
  }
  if (choice.rfind("time:", 0) == 0) {
    LL_ASSIGN_OR_RETURN(int64_t t, ParseTime(choice.substr(5)));
    LL_ASSIGN_OR_RETURN(r.seq, replica.SeqAtOrBefore(t));
    r.description = "time " + FormatTime(t) + ": seq " + std::to_string(r.seq);
    return r;
  }
  std::string id_text = choice.rfind("id:", 0) == 0 ? choice.substr(3) : choice;
  auto id = ParseU64(
      id_text,
      "point choice (latest, latest-processed, latest-app, latest-group, ID, seq:N, time:T)");
  if (!id.ok()) return id.status();
  LL_ASSIGN_OR_RETURN(store::RecoveryPoint p, replica.FindPoint(*id));
  return ResolvedPoint{p.seq, p.id,
                       "point " + std::to_string(p.id) + " (seq " + std::to_string(p.seq) + ", " +
                           FormatTime(p.time_unix_ns) + ")"};
}

// ---------------------------------------------------------------------------------------

Result<std::shared_ptr<OverlayBackend>> OverlayBackend::Create(const store::DiskReplica* replica,
                                                               uint64_t seq,
                                                               const std::string& overlay_path) {
  int fd = ::open(overlay_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::IOError("cannot create overlay " + overlay_path + ": " + std::strerror(errno));
  return std::shared_ptr<OverlayBackend>(
      new OverlayBackend(replica, seq, fd, replica->size_bytes()));
}

OverlayBackend::~OverlayBackend() { ::close(fd_); }

Status OverlayBackend::Read(uint64_t offset, MutableByteSpan out) {
  std::shared_lock lock(mu_);
  const uint64_t end = offset + out.size();
  uint64_t pos = offset;
  const auto& entries = written_.entries();
  auto it = entries.upper_bound(pos);
  if (it != entries.begin() && std::prev(it)->second.end > pos) --it;
  auto from_replica = [&](uint64_t a, uint64_t b) {
    return replica_->ReadAt(seq_, a, out.data() + (a - offset), b - a);
  };
  while (pos < end) {
    if (it == entries.end() || it->first >= end) {
      LL_RETURN_IF_ERROR(from_replica(pos, end));
      break;
    }
    if (it->first > pos) {
      LL_RETURN_IF_ERROR(from_replica(pos, it->first));
      pos = it->first;
    }
    uint64_t stop = std::min(end, it->second.end);
    uint8_t* dst = out.data() + (pos - offset);
    if (it->second.value == kZero) {
      std::memset(dst, 0, stop - pos);
    } else {
      LL_RETURN_IF_ERROR(PreadAll(fd_, dst, stop - pos, pos));
    }
    pos = stop;
    ++it;
  }
  return Status::Ok();
}

Status OverlayBackend::Write(uint64_t offset, ByteSpan data, bool fua) {
  std::unique_lock lock(mu_);
  LL_RETURN_IF_ERROR(PwriteAll(fd_, data.data(), data.size(), offset));
  written_.Assign(offset, offset + data.size(), kData);
  if (fua && ::fdatasync(fd_) != 0) return Status::IOError("overlay fdatasync failed");
  return Status::Ok();
}

Status OverlayBackend::Flush() {
  if (::fdatasync(fd_) != 0) return Status::IOError("overlay fdatasync failed");
  return Status::Ok();
}

// Trim is a hint: keeping the bytes is valid, and never touches the replica.
Status OverlayBackend::Trim(uint64_t, uint64_t, bool) { return Status::Ok(); }

Status OverlayBackend::WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode, bool fua) {
  std::unique_lock lock(mu_);
  // The map alone makes the range read as zeros; punch the overlay so it holds no stale data.
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length));
  written_.Assign(offset, offset + length, kZero);
  if (fua && ::fdatasync(fd_) != 0) return Status::IOError("overlay fdatasync failed");
  return Status::Ok();
}

Status OverlayBackend::BlockStatus(uint64_t offset, uint64_t length, size_t,
                                   std::vector<nbd::Extent>* out) {
  (void)offset;
  out->push_back({length, 0});  // one data extent: always correct
  return Status::Ok();
}

uint64_t OverlayBackend::overlay_bytes() const {
  std::shared_lock lock(mu_);
  uint64_t n = 0;
  for (const auto& [start, e] : written_.entries()) n += e.end - start;
  return n;
}

// ---------------------------------------------------------------------------------------

PointExports::PointExports(store::ReplicaStore* store, std::string overlay_dir)
    : store_(store), overlay_dir_(std::move(overlay_dir)) {}

PointExports::~PointExports() {
  if (server_) server_->Stop();
  std::lock_guard lock(mu_);
  for (const auto& [key, info] : exports_) (void)::unlink(info.overlay_path.c_str());
}

Status PointExports::StartServerLocked() {
  if (server_) return Status::Ok();
  nbd::ServerOptions options;
  auto server = std::make_unique<nbd::Server>(&registry_, options);
  LL_RETURN_IF_ERROR(server->ListenTcp("127.0.0.1", 0));
  LL_RETURN_IF_ERROR(server->Start());
  server_ = std::move(server);
  return Status::Ok();
}

uint16_t PointExports::port() const {
  std::lock_guard lock(mu_);
  return server_ ? server_->tcp_port() : 0;
}

Result<PointExportInfo> PointExports::Export(const std::string& operation,
                                             const std::string& machine, const std::string& disk_id,
                                             const std::string& choice) {
  LL_ASSIGN_OR_RETURN(store::DiskReplica * replica, store_->Disk(disk_id));
  LL_ASSIGN_OR_RETURN(ResolvedPoint point, ResolvePoint(*replica, choice));
  std::lock_guard lock(mu_);
  const std::string key = Key(operation, machine, disk_id);
  if (exports_.count(key))
    return Status::Busy("disk " + disk_id + " of " + machine + " is already exported for a " +
                        operation);
  LL_RETURN_IF_ERROR(StartServerLocked());
  LL_RETURN_IF_ERROR(FileSystem::Posix()->MakeDirs(overlay_dir_));
  PointExportInfo info;
  info.operation = operation;
  info.machine = machine;
  info.disk_id = disk_id;
  info.export_name = operation + "-" + machine + "-" + disk_id;
  info.overlay_path = JoinPath(overlay_dir_, info.export_name + ".overlay");
  info.nbd_url = "nbd://127.0.0.1:" + std::to_string(server_->tcp_port()) + "/" + info.export_name;
  info.point = point;
  LL_ASSIGN_OR_RETURN(auto backend, OverlayBackend::Create(replica, point.seq, info.overlay_path));
  nbd::Export e;
  e.name = info.export_name;
  e.description = operation + " of " + machine + " disk " + disk_id + " at " + point.description;
  e.backend = backend;
  Status s = registry_.Add(std::move(e));
  if (!s.ok()) {
    (void)::unlink(info.overlay_path.c_str());
    return s;
  }
  exports_[key] = info;
  backends_[key] = std::move(backend);
  return info;
}

Status PointExports::Unexport(const std::string& operation, const std::string& machine,
                              const std::string& disk_id) {
  std::lock_guard lock(mu_);
  auto it = exports_.find(Key(operation, machine, disk_id));
  if (it == exports_.end()) return Status::Ok();
  Status s = registry_.Remove(it->second.export_name);
  if (!s.ok() && s.code() != Code::kNotFound) return s;
  // Open connections keep the backend (and its open fd) alive; the file name goes now.
  if (::unlink(it->second.overlay_path.c_str()) != 0 && errno != ENOENT)
    return Status::IOError("cannot remove overlay " + it->second.overlay_path);
  backends_.erase(it->first);
  exports_.erase(it);
  return Status::Ok();
}

std::vector<PointExportInfo> PointExports::List(const std::string& machine) const {
  std::lock_guard lock(mu_);
  std::vector<PointExportInfo> out;
  for (const auto& [key, info] : exports_)
    if (machine.empty() || info.machine == machine) out.push_back(info);
  return out;
}

Result<std::shared_ptr<OverlayBackend>> PointExports::BackendOf(const std::string& operation,
                                                                const std::string& machine,
                                                                const std::string& disk_id) const {
  std::lock_guard lock(mu_);
  auto it = backends_.find(Key(operation, machine, disk_id));
  if (it == backends_.end())
    return Status::NotFound("disk " + disk_id + " of " + machine + " has no " + operation +
                            " export");
  return it->second;
}

std::unique_ptr<control::DiskExporter> PointExports::Exporter(const std::string& operation) {
  return std::make_unique<ControlExporter>(this, operation);
}

}  // namespace lifeline::vault
