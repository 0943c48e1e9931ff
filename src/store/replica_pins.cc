// DiskReplica pins (disk_replica.h): named seqs retention keeps readable, persisted in the
// PINS file by atomic replace (write temp, fsync, rename, fsync dir), so a crash leaves
// either the old or the new set. Lock order: base_mu_, mu_, pins_mu_.
#include "store/disk_replica.h"

namespace lifeline::store {

Status DiskReplica::LoadPins() {
  const std::string path = JoinPath(dir_, kPinsFileName);
  std::lock_guard p(pins_mu_);
  pins_.clear();
  if (!fs_->Exists(path)) return Status::Ok();
  LL_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(fs_, path, 1u << 20));
  auto pins = DecodePins(text);
  if (!pins.ok())
    return Status::Corruption("replica " + disk_id_ + ": " + pins.status().message() + " (" +
                              path + ")");
  pins_ = std::move(*pins);
  return Status::Ok();
}

std::optional<uint64_t> DiskReplica::MinPinnedSeq() const {
  std::lock_guard p(pins_mu_);
  std::optional<uint64_t> min;
  for (const auto& [name, seq] : pins_)
    if (!min || seq < *min) min = seq;
  return min;
}

Status DiskReplica::Pin(const std::string& name, uint64_t seq) {
  if (!ValidPinName(name))
    return Status::InvalidArgument("pin name '" + name.substr(0, 64) +
                                   "' must be 1-200 letters, digits, - _ . / :");
  if (options_.read_only) return Status::FailedPrecondition("replica " + disk_id_ + " is open read-only");
  // Exclusive on the base: no fold runs between the check and the pin.
  std::unique_lock b(base_mu_);
  std::shared_lock l(mu_);
  LL_RETURN_IF_ERROR(CheckReadableSeq(seq));
  std::lock_guard p(pins_mu_);
  PinMap next = pins_;
  next[name] = seq;
  if (next.size() > kMaxPins) return Status::NoSpace("replica " + disk_id_ + " has 1024 pins already");
  LL_RETURN_IF_ERROR(WriteFileAtomic(fs_, JoinPath(dir_, kPinsFileName), EncodePins(next)));
  pins_ = std::move(next);
  return Status::Ok();
}

Status DiskReplica::Unpin(const std::string& name) {
  std::lock_guard p(pins_mu_);
  if (!pins_.count(name)) return Status::Ok();
  PinMap next = pins_;
  next.erase(name);
  LL_RETURN_IF_ERROR(WriteFileAtomic(fs_, JoinPath(dir_, kPinsFileName), EncodePins(next)));
  pins_ = std::move(next);
  return Status::Ok();
}

PinMap DiskReplica::Pins() const {
  std::lock_guard p(pins_mu_);
  return pins_;
}

}  // namespace lifeline::store
