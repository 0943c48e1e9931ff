// The rule registry: every rule in a stable order (areas as in NETWORK_MODEL.md §2).
// Built once on first use; read-only afterwards, thread-safe.
#include "net/checks/rules.h"

namespace lifeline::net {

const std::vector<Rule>& AllRules() {
  using namespace checks;
  static const std::vector<Rule> kRules = {
      AddrSubnetOutsideVnet(),
      AddrSubnetOverlap(),
      AddrPeeredOverlap(),
      AddrCircuitOverlap(),
      AddrPeeringSubnet(),
      AddrPeeringSubnetVnet(),
      AddrGlobalReach(),
      GwSubnetName(),
      GwSubnetSize(),
      GwSubnetNsg(),
      GwSubnetDefaultRoute(),
      GwSubnetPropagation(),
      GwOnePerType(),
      GwCircuitLimit(),
      CircuitSkuName(),
      CircuitBandwidth(),
      CircuitLocalSku(),
      CircuitNotProvisioned(),
      CircuitLinkLimit(),
      CircuitCrossGeo(),
      CircuitGlobalReach(),
      PeeringAsn(),
      PeeringVlan(),
      PeeringSingleLink(),
      PeeringBgpTimers(),
      PeeringBfdOff(),
      PeeringPrefixLimit(),
      PeeringMsPublic(),
      PeeringMsRouteFilter(),
      PeeringMsNat(),
      GwSku(),
      GwPublicIp(),
      GwZonePlacement(),
      GwFastPath(),
      VpnCoexist(),
      VpnPrivateOnly(),
      VnetPeerRemoteGateway(),
      VnetPeerOneRemoteGateway(),
      VnetPeerOwnGateway(),
      VnetPeerOneDirection(),
      VnetPeerTransit(),
      RouteAppliance(),
      RouteErGateway(),
      RouteReplicationNva(),
      VpnEncryptionOverlap(),
      ChangeBandwidth(),
      ChangeUnlimited(),
      ChangePremiumOff(),
      ChangeGatewayResize(),
      DrTargetNetwork(),
      DrSameSpace(),
      DrTargetPremium(),
      DrReplicationPath(),
      DrDrillIsolated(),
      DrTargetNotProvisioned(),
      DrSingleLocation(),
  };
  return kRules;
}

}  // namespace lifeline::net
