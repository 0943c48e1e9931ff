// The network drivers a vault can use for the `network:` actions of recovery plans, chosen
// by `vault run --network-driver SPEC`:
//   command:PATH           runs PATH STEP for every step (control/network_driver.h)
//   lab:NAME[:STATE_DIR]   acts on the running network lab NAME (src/lab, docs/lab.md):
//     disconnect-connection {connection: C | circuit: C}   fails the circuit's links (down)
//     connect-connection    {connection: C | circuit: C}   heals them (OK if not failed)
//     verify-path {from: SITE|VNET, to: SITE|VNET, expect: reachable|unreachable,
//                  duration_s: 0.2..30 (default 2)}        a UDP probe stream between them
//   Any other step (create-gateway, create-peering, ...) fails naming the driver and step.
// Thread-safe as NetworkDriver requires; lab steps of one driver are serialized (the lab's
// state file is rewritten by each).
#pragma once

#include <memory>
#include <string>

#include "control/network_driver.h"

namespace lifeline::vault {

// InvalidArgument for a malformed spec; "" gives nullptr (no driver).
Result<std::unique_ptr<control::NetworkDriver>> MakeNetworkDriver(const std::string& spec);

}  // namespace lifeline::vault
