// Declarations of every rule (one file each in this folder) and the registry order.
// Pure declarations; thread-safe.
#pragma once

#include "net/check.h"

namespace lifeline::net::checks {

Rule AddrSubnetOutsideVnet();
Rule AddrSubnetOverlap();
Rule AddrPeeredOverlap();
Rule AddrCircuitOverlap();
Rule AddrPeeringSubnet();
Rule AddrPeeringSubnetVnet();
Rule AddrGlobalReach();
Rule GwSubnetName();
Rule GwSubnetSize();
Rule GwSubnetNsg();
Rule GwSubnetDefaultRoute();
Rule GwSubnetPropagation();
Rule GwOnePerType();
Rule GwCircuitLimit();
Rule CircuitSkuName();
Rule CircuitBandwidth();
Rule CircuitLocalSku();
Rule CircuitNotProvisioned();
Rule CircuitLinkLimit();
Rule CircuitCrossGeo();
Rule CircuitGlobalReach();
Rule PeeringAsn();
Rule PeeringVlan();
Rule PeeringSingleLink();
Rule PeeringBgpTimers();
Rule PeeringBfdOff();
Rule PeeringPrefixLimit();
Rule PeeringMsPublic();
Rule PeeringMsRouteFilter();
Rule PeeringMsNat();
Rule GwSku();
Rule GwPublicIp();
Rule GwZonePlacement();
Rule GwFastPath();
Rule VpnCoexist();
Rule VpnPrivateOnly();
Rule VnetPeerRemoteGateway();
Rule VnetPeerOneRemoteGateway();
Rule VnetPeerOwnGateway();
Rule VnetPeerOneDirection();
Rule VnetPeerTransit();
Rule RouteAppliance();
Rule RouteErGateway();
Rule RouteReplicationNva();
Rule VpnEncryptionOverlap();
Rule ChangeBandwidth();
Rule ChangeUnlimited();
Rule ChangePremiumOff();
Rule ChangeGatewayResize();
Rule DrTargetNetwork();
Rule DrSameSpace();
Rule DrTargetPremium();
Rule DrReplicationPath();
Rule DrDrillIsolated();
Rule DrTargetNotProvisioned();
Rule DrSingleLocation();

}  // namespace lifeline::net::checks
