// ExportRegistry implementation; see export_registry.h. Thread-safe (one mutex).
#include "nbd/export_registry.h"

#include "nbd/protocol.h"

namespace lifeline::nbd {

Status ExportRegistry::Add(Export e) {
  if (e.name.size() > kMaxStringBytes) {
    return Status::InvalidArgument("export name longer than 4096 bytes");
  }
  if (!e.backend) return Status::InvalidArgument("export '" + e.name + "' has no backend");
  std::lock_guard lock(mu_);
  if (exports_.count(e.name)) return Status::Busy("export '" + e.name + "' already exists");
  std::string name = e.name;
  exports_.emplace(std::move(name), std::make_shared<const Export>(std::move(e)));
  return Status::Ok();
}

Status ExportRegistry::Remove(const std::string& name) {
  std::lock_guard lock(mu_);
  if (exports_.erase(name) == 0) return Status::NotFound("no export named '" + name + "'");
  return Status::Ok();
}

std::shared_ptr<const Export> ExportRegistry::Find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = exports_.find(name);
  if (it != exports_.end()) return it->second;
  if (name.empty() && exports_.size() == 1) return exports_.begin()->second;
  return nullptr;
}

std::vector<std::string> ExportRegistry::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  names.reserve(exports_.size());
  for (const auto& [name, e] : exports_) names.push_back(name);
  return names;
}

}  // namespace lifeline::nbd
