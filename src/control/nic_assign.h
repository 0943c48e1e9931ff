// The addresses a machine's NICs get when it is recovered (failover) or drilled: the
// catalog's network mapping and static rules (netmap.h) applied to the machine's NICs, with
// the addresses of copies already running in the same kind of network counted as taken.
// Used by the drill and failover steps and by the preview an operator asks for beforehand.
// Thread-safe as the catalog is.
#pragma once

#include <set>
#include <vector>

#include "common/status.h"
#include "control/catalog.h"
#include "control/launcher.h"
#include "control/netmap.h"

namespace lifeline::control {

// Addresses held by running copies: drill copies for kDrill, failover and failback copies
// for kRecovery; the copies of `except_machine_id` (its own, about to be replaced) are left
// out.
Result<std::set<IpAddress>> AddressesInUse(Catalog* catalog, NetworkMode mode,
                                           int64_t except_machine_id = 0);

// One assignment per NIC of `machine`, in NIC order; empty when it has no NICs. Errors name
// the machine, the NIC and what to change (an unmapped network, a full subnet, a static
// address that is taken).
Result<std::vector<NicAssignment>> AssignNics(Catalog* catalog, const Machine& machine,
                                              NetworkMode mode);

// What a launcher gets for an assigned NIC, and the log line that says why.
LaunchNic ToLaunchNic(const NicAssignment& a, const std::string& mac);
std::string DescribeAssignment(const NicAssignment& a);

}  // namespace lifeline::control
