// ExportRegistry: the named exports an NBD server offers (name -> backend, read-only flag,
// description). The vault adds and removes exports of recovery points while the server
// runs. Thread-safe: all methods take an internal lock; a connection keeps its export
// alive through the shared_ptr it got from Find() even if the export is removed later.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "nbd/backend.h"

namespace lifeline::nbd {

struct Export {
  std::string name;          // "" is the default export
  std::string description;   // sent for NBD_INFO_DESCRIPTION when non-empty
  std::shared_ptr<Backend> backend;
  bool read_only = false;    // writes, trims and zeroes get EPERM
};

class ExportRegistry {
 public:
  // Adds an export. InvalidArgument for a name longer than 4096 bytes or a missing
  // backend; Busy if the name is taken.
  Status Add(Export e);
  // Removes an export; NotFound if absent. Open connections keep working.
  Status Remove(const std::string& name);
  // The export with this name. An empty name selects the default export: the one named
  // "" if present, else the only export when there is exactly one.
  std::shared_ptr<const Export> Find(const std::string& name) const;
  // Names in sorted order (for NBD_OPT_LIST).
  std::vector<std::string> Names() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Export>> exports_;
};

}  // namespace lifeline::nbd
