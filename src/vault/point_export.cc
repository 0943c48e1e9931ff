#include "vault/point_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <cstring>

#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"
#include "vault/overlay_map.h"

namespace lifeline::vault {
namespace {

constexpr char kLog[] = "exports";

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
  std::shared_ptr<OverlayBackend> b(
      new OverlayBackend(replica, seq, fd, replica->size_bytes(), MapPath(overlay_path)));
  std::unique_lock lock(b->mu_);
  LL_RETURN_IF_ERROR(b->RewriteMapLocked());
  return b;
}

Result<std::shared_ptr<OverlayBackend>> OverlayBackend::Open(const store::DiskReplica* replica,
                                                             uint64_t seq,
                                                             const std::string& overlay_path) {
  const std::string map_path = MapPath(overlay_path);
  auto* fs = FileSystem::Posix();
  if (!fs->Exists(overlay_path) || !fs->Exists(map_path))
    return Status::NotFound("overlay " + overlay_path + " or its map is missing");
  // 21 bytes a record and compaction at 4x the ranges: 64 MiB is far beyond any real map.
  LL_ASSIGN_OR_RETURN(std::string log, ReadWholeFile(fs, map_path, 64u << 20));
  LL_ASSIGN_OR_RETURN(DecodedOverlayMap decoded, DecodeOverlayMap(log, replica->size_bytes()));
  if (decoded.torn)
    log::Warn(kLog, map_path + ": dropped a torn tail of " +
                        std::to_string(log.size() - decoded.valid_bytes) + " bytes");
  int fd = ::open(overlay_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return Status::IOError("cannot open overlay " + overlay_path + ": " + std::strerror(errno));
  std::shared_ptr<OverlayBackend> b(
      new OverlayBackend(replica, seq, fd, replica->size_bytes(), map_path));
  std::unique_lock lock(b->mu_);
  for (const auto& e : decoded.entries) b->written_.Assign(e.offset, e.offset + e.length, e.kind);
  LL_RETURN_IF_ERROR(b->RewriteMapLocked());
  return b;
}

OverlayBackend::~OverlayBackend() {
  ::close(fd_);
  if (map_fd_ >= 0) ::close(map_fd_);
}

Status OverlayBackend::RewriteMapLocked() {
  std::string data(kOverlayMapMagic, kOverlayMapHeaderBytes);
  uint64_t n = 0;
  for (const auto& [start, e] : written_.entries()) {
    data += EncodeOverlayMapRecord({start, e.end - start, e.value});
    ++n;
  }
  // The overlay's data must be on disk before a map that names it replaces the old one.
  if (::fdatasync(fd_) != 0) return Status::IOError("overlay fdatasync failed");
  LL_RETURN_IF_ERROR(WriteFileAtomic(FileSystem::Posix(), map_path_, data));
  int fd = ::open(map_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    return Status::IOError("cannot open overlay map " + map_path_ + ": " + std::strerror(errno));
  if (map_fd_ >= 0) ::close(map_fd_);
  map_fd_ = fd;
  map_records_ = n;
  return Status::Ok();
}

Status OverlayBackend::LogRangeLocked(uint64_t offset, uint64_t length, uint8_t kind) {
  if (map_records_ > 4096 && map_records_ > 4 * written_.entries().size())
    return RewriteMapLocked();  // the map already holds this range
  std::string rec = EncodeOverlayMapRecord({offset, length, kind});
  // One write(2) of 21 bytes with O_APPEND: a crash leaves it whole or torn at the tail.
  ssize_t w;
  do {
    w = ::write(map_fd_, rec.data(), rec.size());
  } while (w < 0 && errno == EINTR);
  if (w != static_cast<ssize_t>(rec.size()))
    return w < 0 && errno == ENOSPC ? Status::NoSpace("overlay map: no space left")
                                    : Status::IOError("overlay map write failed");
  ++map_records_;
  return Status::Ok();
}

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
  if (offset > size_ || data.size() > size_ - offset)
    return Status::InvalidArgument("overlay write past the end of the disk");
  LL_RETURN_IF_ERROR(PwriteAll(fd_, data.data(), data.size(), offset));
  written_.Assign(offset, offset + data.size(), kData);
  LL_RETURN_IF_ERROR(LogRangeLocked(offset, data.size(), kData));
  if (fua) return FlushLocked();
  return Status::Ok();
}

Status OverlayBackend::FlushLocked() {
  // Data first, then the map that names it.
  if (::fdatasync(fd_) != 0) return Status::IOError("overlay fdatasync failed");
  if (::fdatasync(map_fd_) != 0) return Status::IOError("overlay map fdatasync failed");
  return Status::Ok();
}

Status OverlayBackend::Flush() {
  std::unique_lock lock(mu_);
  return FlushLocked();
}

// Trim is a hint: keeping the bytes is valid, and never touches the replica.
Status OverlayBackend::Trim(uint64_t, uint64_t, bool) { return Status::Ok(); }

Status OverlayBackend::WriteZeroes(uint64_t offset, uint64_t length, nbd::ZeroMode, bool fua) {
  std::unique_lock lock(mu_);
  // The map alone makes the range read as zeros; punch the overlay so it holds no stale data.
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length));
  if (offset > size_ || length > size_ - offset)
    return Status::InvalidArgument("overlay write past the end of the disk");
  written_.Assign(offset, offset + length, kZero);
  LL_RETURN_IF_ERROR(LogRangeLocked(offset, length, kZero));
  if (fua) return FlushLocked();
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

PointExports::PointExports(store::ReplicaStore* store, std::string overlay_dir,
                           std::string state_path)
    : store_(store), overlay_dir_(std::move(overlay_dir)), state_path_(std::move(state_path)) {}

PointExports::~PointExports() {
  if (server_) server_->Stop();
  if (!state_path_.empty()) return;  // the overlays outlive the process: Restore() reopens them
  std::lock_guard lock(mu_);
  for (const auto& [key, info] : exports_) {
    (void)::unlink(info.overlay_path.c_str());
    (void)::unlink(OverlayBackend::MapPath(info.overlay_path).c_str());
    if (auto replica = store_->Disk(info.disk_id); replica.ok()) (void)(*replica)->Unpin(PinName(info));
  }
}

Status PointExports::StartServerLocked(uint16_t port) {
  if (server_) return Status::Ok();
  nbd::ServerOptions options;
  auto server = std::make_unique<nbd::Server>(&registry_, options);
  LL_RETURN_IF_ERROR(server->ListenTcp("127.0.0.1", port));
  LL_RETURN_IF_ERROR(server->Start());
  server_ = std::move(server);
  return Status::Ok();
}

uint16_t PointExports::port() const {
  std::lock_guard lock(mu_);
  return server_ ? server_->tcp_port() : 0;
}

Status PointExports::SaveStateLocked() {
  if (state_path_.empty()) return Status::Ok();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, info] : exports_)
    list.push_back({{"operation", info.operation},
                    {"machine", info.machine},
                    {"disk_id", info.disk_id},
                    {"export_name", info.export_name},
                    {"overlay_path", info.overlay_path},
                    {"seq", info.point.seq},
                    {"point_id", info.point.point_id},
                    {"description", info.point.description}});
  nlohmann::json state = {
      {"version", 1}, {"port", server_ ? server_->tcp_port() : 0}, {"exports", list}};
  return WriteFileAtomic(FileSystem::Posix(), state_path_, state.dump(2));
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
  // Pin first: from here on retention keeps the seq readable. A crash before the state is
  // saved leaves a pin no export owns, which Restore() drops.
  LL_RETURN_IF_ERROR(replica->Pin(PinName(info), point.seq));
  auto undo = [&] {
    (void)::unlink(info.overlay_path.c_str());
    (void)::unlink(OverlayBackend::MapPath(info.overlay_path).c_str());
    (void)replica->Unpin(PinName(info));
  };
  auto backend = OverlayBackend::Create(replica, point.seq, info.overlay_path);
  if (!backend.ok()) {
    undo();
    return backend.status();
  }
  nbd::Export e;
  e.name = info.export_name;
  e.description = operation + " of " + machine + " disk " + disk_id + " at " + point.description;
  e.backend = *backend;
  Status s = registry_.Add(std::move(e));
  if (!s.ok()) {
    undo();
    return s;
  }
  exports_[key] = info;
  backends_[key] = std::move(*backend);
  if (Status saved = SaveStateLocked(); !saved.ok()) {
    (void)registry_.Remove(info.export_name);
    exports_.erase(key);
    backends_.erase(key);
    undo();
    return saved;
  }
  return info;
}

Status PointExports::Unexport(const std::string& operation, const std::string& machine,
                              const std::string& disk_id) {
  std::lock_guard lock(mu_);
  auto it = exports_.find(Key(operation, machine, disk_id));
  if (it == exports_.end()) return Status::Ok();
  const PointExportInfo info = it->second;
  Status s = registry_.Remove(info.export_name);
  if (!s.ok() && s.code() != Code::kNotFound) return s;
  backends_.erase(it->first);
  exports_.erase(it);
  // Saved without it first: a crash after this leaves only files and a pin that Restore()
  // recognizes as nobody's and removes.
  LL_RETURN_IF_ERROR(SaveStateLocked());
  // Open connections keep the backend (and its open fd) alive; the file names go now.
  if (::unlink(info.overlay_path.c_str()) != 0 && errno != ENOENT)
    return Status::IOError("cannot remove overlay " + info.overlay_path);
  (void)::unlink(OverlayBackend::MapPath(info.overlay_path).c_str());
  auto replica = store_->Disk(disk_id);
  if (replica.ok()) LL_RETURN_IF_ERROR((*replica)->Unpin(PinName(info)));
  return Status::Ok();
}

Status PointExports::Restore(std::vector<std::string>* problems) {
  if (state_path_.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  if (!exports_.empty()) return Status::FailedPrecondition("exports restored twice");
  std::vector<PointExportInfo> saved;
  uint16_t port = 0;
  auto* fs = FileSystem::Posix();
  if (fs->Exists(state_path_)) {
    LL_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(fs, state_path_, 16u << 20));
    nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto str = [](const nlohmann::json& j, const char* k) {
      return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
    };
    auto num = [](const nlohmann::json& j, const char* k) -> std::optional<uint64_t> {
      if (j.contains(k) && j[k].is_number_unsigned()) return j[k].get<uint64_t>();
      return std::nullopt;
    };
    if (!state.is_object() || !state.contains("exports") || !state["exports"].is_array())
      return Status::Corruption(state_path_ + ": not an exports file");
    if (auto p = num(state, "port"); p && *p <= 65535) port = static_cast<uint16_t>(*p);
    for (const auto& j : state["exports"]) {
      PointExportInfo info;
      if (j.is_object()) {
        info.operation = str(j, "operation");
        info.machine = str(j, "machine");
        info.disk_id = str(j, "disk_id");
        info.export_name = str(j, "export_name");
        info.overlay_path = str(j, "overlay_path");
        info.point.description = str(j, "description");
      }
      auto seq = j.is_object() ? num(j, "seq") : std::nullopt;
      auto point_id = j.is_object() ? num(j, "point_id") : std::nullopt;
      if (info.operation.empty() || info.machine.empty() || info.disk_id.empty() ||
          info.export_name.empty() || info.overlay_path.empty() || !seq || !point_id) {
        problems->push_back(state_path_ + ": an export entry lacks a field; left out");
        continue;
      }
      info.point.seq = *seq;
      info.point.point_id = *point_id;
      saved.push_back(std::move(info));
    }
  }
  if (!saved.empty()) {
    Status s = StartServerLocked(port);
    if (!s.ok() && port != 0) {
      problems->push_back("NBD port " + std::to_string(port) + " is taken (" + s.message() +
                          "): the exports move to a new port");
      s = StartServerLocked(0);
    }
    LL_RETURN_IF_ERROR(s);
  }
  std::set<std::string> owned_pins, owned_files;
  for (auto& info : saved) {
    auto fail = [&](const Status& st) {
      problems->push_back("export " + info.export_name + " not restored: " + st.ToString());
    };
    auto replica = store_->Disk(info.disk_id);
    if (!replica.ok()) {
      fail(replica.status());
      continue;
    }
    if (Status st = (*replica)->Pin(PinName(info), info.point.seq); !st.ok()) {
      fail(st);
      continue;
    }
    auto backend = OverlayBackend::Open(*replica, info.point.seq, info.overlay_path);
    if (!backend.ok()) {
      fail(backend.status());
      (void)(*replica)->Unpin(PinName(info));
      continue;
    }
    nbd::Export e;
    e.name = info.export_name;
    e.description = info.operation + " of " + info.machine + " disk " + info.disk_id + " at " +
                    info.point.description + " (restored)";
    e.backend = *backend;
    if (Status st = registry_.Add(std::move(e)); !st.ok()) {
      fail(st);
      continue;
    }
    info.nbd_url =
        "nbd://127.0.0.1:" + std::to_string(server_->tcp_port()) + "/" + info.export_name;
    const std::string key = Key(info.operation, info.machine, info.disk_id);
    owned_pins.insert(info.disk_id + "\n" + PinName(info));
    owned_files.insert(info.overlay_path);
    owned_files.insert(OverlayBackend::MapPath(info.overlay_path));
    backends_[key] = std::move(*backend);
    exports_[key] = std::move(info);
  }
  // Leftovers of a crash between pinning and saving, or between saving and removing.
  if (auto ids = store_->DiskIds(); ids.ok()) {
    for (const auto& id : *ids) {
      auto replica = store_->Disk(id);
      if (!replica.ok()) continue;
      for (const auto& [name, seq] : (*replica)->Pins())
        if (name.rfind("export/", 0) == 0 && !owned_pins.count(id + "\n" + name)) {
          log::Info(kLog, "dropping the pin " + name + " of disk " + id + ": no export owns it");
          (void)(*replica)->Unpin(name);
        }
    }
  }
  if (fs->Exists(overlay_dir_)) {
    if (auto names = fs->List(overlay_dir_); names.ok())
      for (const auto& n : *names) {
        const std::string path = JoinPath(overlay_dir_, n);
        if (!owned_files.count(path) && (n.ends_with(".overlay") || n.ends_with(".map") ||
                                          n.ends_with(".tmp")))
          (void)::unlink(path.c_str());
      }
  }
  for (const auto& [key, info] : exports_)
    log::Info(kLog, "restored " + info.nbd_url + " (" + info.point.description + ")");
  return SaveStateLocked();
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
