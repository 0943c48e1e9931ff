// Names of the model's enums as the topology file spells them.
#include "net/model.h"

namespace lifeline::net {

const char* NextHopTypeName(NextHopType t) {
  switch (t) {
    case NextHopType::kAppliance:
      return "appliance";
    case NextHopType::kGateway:
      return "gateway";
    case NextHopType::kVnetLocal:
      return "vnet_local";
    case NextHopType::kInternet:
      return "internet";
    case NextHopType::kNone:
      return "none";
  }
  return "none";
}

const char* PeeringTypeName(PeeringType t) {
  return t == PeeringType::kMicrosoft ? "microsoft" : "private";
}

const char* GatewayTypeName(GatewayType t) {
  return t == GatewayType::kVpn ? "vpn" : "expressroute";
}

}  // namespace lifeline::net
