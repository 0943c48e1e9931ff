// Topology file → model. Pass 1 reads the structure key by key (strict keys and types);
// pass 2 (topology_resolve.cc) checks names are unique and every reference resolves.
#include "net/topology_parser.h"

#include <fstream>
#include <sstream>

#include "net/topology_resolve.h"
#include "net/yaml_reader.h"

namespace lifeline::net {
namespace {

constexpr int64_t kMaxAsn = 4294967295LL;

class Parser {
 public:
  explicit Parser(std::string file) : r_(std::move(file)) {}

  YamlReader& reader() { return r_; }

  void Top(const YamlNode& root, Topology* t) {
    if (!r_.ExpectMap(
            root, "the topology file",
            {"name", "regions", "peering_locations", "sites", "vnets", "vnet_peerings",
             "route_tables", "circuits", "connections", "vpn_connections", "global_reach", "dr"})) {
      return;
    }
    r_.Str(root, "name", &t->name, true);
    for (const auto& n : r_.Seq(root, "regions")) {
      Region x;
      x.loc = YamlReader::LocOf(n);
      if (!r_.ExpectMap(n, "a region", {"name", "geo"})) continue;
      r_.Str(n, "name", &x.name, true);
      r_.Str(n, "geo", &x.geo, true);
      t->regions.push_back(std::move(x));
    }
    for (const auto& n : r_.Seq(root, "peering_locations")) {
      PeeringLocation x;
      x.loc = YamlReader::LocOf(n);
      if (!r_.ExpectMap(n, "a peering location", {"name", "geo"})) continue;
      r_.Str(n, "name", &x.name, true);
      r_.Str(n, "geo", &x.geo, true);
      t->peering_locations.push_back(std::move(x));
    }
    for (const auto& n : r_.Seq(root, "sites")) SiteNode(n, t);
    for (const auto& n : r_.Seq(root, "vnets")) VnetNode(n, t);
    for (const auto& n : r_.Seq(root, "vnet_peerings")) PeeringNode(n, t);
    for (const auto& n : r_.Seq(root, "route_tables")) RouteTableNode(n, t);
    for (const auto& n : r_.Seq(root, "circuits")) CircuitNode(n, t);
    for (const auto& n : r_.Seq(root, "connections")) ConnectionNode(n, t);
    for (const auto& n : r_.Seq(root, "vpn_connections")) VpnNode(n, t);
    for (const auto& n : r_.Seq(root, "global_reach")) GlobalReachNode(n, t);
    const YamlNode* dr = YamlReader::Present(root, "dr");
    if (dr) DrNode(*dr, t);
  }

 private:
  void SiteNode(const YamlNode& n, Topology* t) {
    Site s;
    s.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a site", {"name", "prefixes", "routers"})) return;
    r_.Str(n, "name", &s.name, true);
    s.prefixes = r_.Prefixes(n, "prefixes", false);
    for (const auto& rn : r_.Seq(n, "routers")) {
      Router x;
      x.loc = YamlReader::LocOf(rn);
      if (!r_.ExpectMap(rn, "a router", {"name", "asn"})) continue;
      r_.Str(rn, "name", &x.name, true);
      r_.IntAs(rn, "asn", 1, kMaxAsn, &x.asn, true);
      s.routers.push_back(std::move(x));
    }
    t->sites.push_back(std::move(s));
  }

  void VnetNode(const YamlNode& n, Topology* t) {
    Vnet v;
    v.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a vnet",
                      {"name", "region", "address_space", "subnets", "gateways", "appliances",
                       "service_endpoints"})) {
      return;
    }
    r_.Str(n, "name", &v.name, true);
    r_.Str(n, "region", &v.region, true);
    v.address_space = r_.Prefixes(n, "address_space", true);
    for (const auto& sn : r_.Seq(n, "subnets")) {
      Subnet s;
      s.loc = YamlReader::LocOf(sn);
      if (!r_.ExpectMap(sn, "a subnet", {"name", "prefix", "nsg"})) continue;
      r_.Str(sn, "name", &s.name, true);
      std::optional<IpPrefix> p;
      if (r_.Prefix(sn, "prefix", &p, true)) s.prefix = *p;
      r_.Str(sn, "nsg", &s.nsg, false);
      v.subnets.push_back(std::move(s));
    }
    for (const auto& gn : r_.Seq(n, "gateways")) GatewayNode(gn, &v);
    for (const auto& an : r_.Seq(n, "appliances")) {
      Appliance a;
      a.loc = YamlReader::LocOf(an);
      if (!r_.ExpectMap(an, "an appliance", {"name", "ip"})) continue;
      r_.Str(an, "name", &a.name, true);
      std::optional<IpPrefix> ip;
      if (r_.Address(an, "ip", &ip, true)) a.ip = *ip;
      v.appliances.push_back(std::move(a));
    }
    for (const auto& en : r_.Seq(n, "service_endpoints")) {
      ServiceEndpoint e;
      e.loc = YamlReader::LocOf(en);
      if (!r_.ExpectMap(en, "a service endpoint", {"subnet", "service"})) continue;
      r_.Str(en, "subnet", &e.subnet, true);
      r_.Str(en, "service", &e.service, true);
      v.service_endpoints.push_back(std::move(e));
    }
    t->vnets.push_back(std::move(v));
  }

  void GatewayNode(const YamlNode& n, Vnet* v) {
    Gateway g;
    g.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a gateway",
                      {"name", "type", "sku", "public_ip", "vpn_type", "asn", "scale_units"})) {
      return;
    }
    r_.Str(n, "name", &g.name, true);
    std::string type;
    if (r_.Enum(n, "type", {"expressroute", "vpn"}, &type, true)) {
      g.type = type == "vpn" ? GatewayType::kVpn : GatewayType::kExpressRoute;
    }
    r_.Str(n, "sku", &g.sku, true);
    const YamlNode* ip = YamlReader::Present(n, "public_ip");
    if (ip) {
      PublicIp p;
      p.loc = YamlReader::LocOf(*ip);
      if (r_.ExpectMap(*ip, "a public_ip", {"sku", "zone"})) {
        r_.Enum(*ip, "sku", {"standard", "basic"}, &p.sku, false);
        int zone = 0;
        if (r_.IntAs(*ip, "zone", 1, 3, &zone, false)) p.zone = zone;
      }
      g.public_ip = p;
    }
    r_.Enum(n, "vpn_type", {"route_based", "policy_based"}, &g.vpn_type, false);
    uint32_t asn = 0;
    if (r_.IntAs(n, "asn", 1, kMaxAsn, &asn, false)) g.asn = asn;
    r_.IntAs(n, "scale_units", 1, 40, &g.scale_units, false);
    if (g.type == GatewayType::kExpressRoute && (g.asn || !g.vpn_type.empty())) {
      r_.Error(n, "gateway '" + g.name + "': asn and vpn_type apply to VPN gateways only");
    }
    v->gateways.push_back(std::move(g));
  }

  void PeeringNode(const YamlNode& n, Topology* t) {
    VnetPeering p;
    p.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a vnet peering",
                      {"from", "to", "allow_vnet_access", "allow_forwarded_traffic",
                       "allow_gateway_transit", "use_remote_gateways"})) {
      return;
    }
    r_.Str(n, "from", &p.from, true);
    r_.Str(n, "to", &p.to, true);
    r_.Bool(n, "allow_vnet_access", &p.allow_vnet_access);
    r_.Bool(n, "allow_forwarded_traffic", &p.allow_forwarded_traffic);
    r_.Bool(n, "allow_gateway_transit", &p.allow_gateway_transit);
    r_.Bool(n, "use_remote_gateways", &p.use_remote_gateways);
    t->vnet_peerings.push_back(std::move(p));
  }

  void RouteTableNode(const YamlNode& n, Topology* t) {
    RouteTable rt;
    rt.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a route table",
                      {"name", "subnets", "propagate_gateway_routes", "routes"})) {
      return;
    }
    r_.Str(n, "name", &rt.name, true);
    for (const auto& sn : r_.Seq(n, "subnets")) {
      SubnetRef ref;
      ref.loc = YamlReader::LocOf(sn);
      std::string s(sn.IsScalar() ? sn.text : std::string_view());
      size_t slash = s.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) {
        r_.Error(sn, "route table subnets are written VNET/SUBNET, not '" + s + "'");
        continue;
      }
      ref.vnet = s.substr(0, slash);
      ref.subnet = s.substr(slash + 1);
      rt.subnets.push_back(std::move(ref));
    }
    r_.Bool(n, "propagate_gateway_routes", &rt.propagate_gateway_routes);
    for (const auto& rn : r_.Seq(n, "routes")) {
      Route ro;
      ro.loc = YamlReader::LocOf(rn);
      if (!r_.ExpectMap(rn, "a route", {"prefix", "next_hop", "next_hop_ip"})) continue;
      std::optional<IpPrefix> p;
      if (r_.Prefix(rn, "prefix", &p, true)) ro.prefix = *p;
      std::string hop;
      if (r_.Enum(rn, "next_hop", {"appliance", "gateway", "vnet_local", "internet", "none"}, &hop,
                  true)) {
        ro.next_hop = hop == "appliance"    ? NextHopType::kAppliance
                      : hop == "gateway"    ? NextHopType::kGateway
                      : hop == "vnet_local" ? NextHopType::kVnetLocal
                      : hop == "internet"   ? NextHopType::kInternet
                                            : NextHopType::kNone;
      }
      r_.Address(rn, "next_hop_ip", &ro.next_hop_ip, false);
      if (ro.next_hop == NextHopType::kAppliance && !ro.next_hop_ip) {
        r_.Error(rn, "a route with next_hop: appliance needs next_hop_ip");
      }
      if (ro.next_hop != NextHopType::kAppliance && ro.next_hop_ip) {
        r_.Error(rn, "next_hop_ip applies only to next_hop: appliance");
      }
      rt.routes.push_back(std::move(ro));
    }
    t->route_tables.push_back(std::move(rt));
  }

  void CircuitNode(const YamlNode& n, Topology* t) {
    Circuit c;
    c.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a circuit",
                      {"name", "provider", "direct", "peering_location", "bandwidth_mbps", "sku",
                       "state", "peerings"})) {
      return;
    }
    r_.Str(n, "name", &c.name, true);
    const YamlNode* prov = YamlReader::Present(n, "provider");
    const YamlNode* direct = YamlReader::Present(n, "direct");
    bool has_prov = prov != nullptr;
    bool has_direct = direct != nullptr;
    if (has_prov == has_direct) {
      r_.Error(n, "circuit '" + c.name +
                      "' needs exactly one of provider: {name: ...} or direct: "
                      "{port_gbps: ...}");
    }
    if (has_prov && r_.ExpectMap(*prov, "a provider", {"name"})) {
      r_.Str(*prov, "name", &c.provider, true);
    }
    if (has_direct && r_.ExpectMap(*direct, "a direct port", {"port_gbps"})) {
      r_.IntAs(*direct, "port_gbps", 1, 1000, &c.direct_port_gbps, true);
    }
    r_.Str(n, "peering_location", &c.peering_location, true);
    r_.IntAs(n, "bandwidth_mbps", 1, 1000000, &c.bandwidth_mbps, true);
    const YamlNode* sku = YamlReader::Present(n, "sku");
    if (!sku) {
      r_.Error(n, "missing required key 'sku'");
    } else if (r_.ExpectMap(*sku, "a circuit sku", {"tier", "family", "name"})) {
      c.sku.loc = YamlReader::LocOf(*sku);
      r_.Str(*sku, "tier", &c.sku.tier, true);
      r_.Str(*sku, "family", &c.sku.family, true);
      r_.Str(*sku, "name", &c.sku.name, true);
    }
    const YamlNode* st = YamlReader::Present(n, "state");
    if (st && r_.ExpectMap(*st, "a circuit state", {"service_provider", "circuit"})) {
      r_.Enum(*st, "service_provider",
              {"NotProvisioned", "Provisioning", "Provisioned", "Deprovisioning"},
              &c.service_provider_state, false);
      r_.Str(*st, "circuit", &c.circuit_state, false);
    }
    for (const auto& pn : r_.Seq(n, "peerings")) PeeringOfCircuit(pn, &c);
    t->circuits.push_back(std::move(c));
  }

  void PeeringOfCircuit(const YamlNode& n, Circuit* c) {
    CircuitPeering p;
    p.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a circuit peering",
                      {"type", "state", "peer_asn", "primary_prefix", "secondary_prefix", "vlan",
                       "bgp", "bfd", "links", "advertise", "route_filter", "nat_pool",
                       "as_path_prepend", "local_pref"})) {
      return;
    }
    std::string type;
    if (r_.Enum(n, "type", {"private", "microsoft"}, &type, true)) {
      p.type = type == "microsoft" ? PeeringType::kMicrosoft : PeeringType::kPrivate;
    }
    std::string state = "enabled";
    r_.Enum(n, "state", {"enabled", "disabled"}, &state, false);
    p.enabled = state == "enabled";
    r_.IntAs(n, "peer_asn", 1, kMaxAsn, &p.peer_asn, true);
    r_.Prefix(n, "primary_prefix", &p.primary_prefix, false);
    r_.Prefix(n, "secondary_prefix", &p.secondary_prefix, false);
    r_.IntAs(n, "vlan", 1, 4094, &p.vlan, true);
    const YamlNode* bgp = YamlReader::Present(n, "bgp");
    if (bgp && r_.ExpectMap(*bgp, "bgp timers", {"keepalive_s", "hold_s"})) {
      r_.IntAs(*bgp, "keepalive_s", 0, 65535, &p.bgp.keepalive_s, false);
      r_.IntAs(*bgp, "hold_s", 0, 65535, &p.bgp.hold_s, false);
    }
    const YamlNode* bfd = YamlReader::Present(n, "bfd");
    if (bfd && r_.ExpectMap(*bfd, "bfd settings", {"enabled", "interval_ms", "multiplier"})) {
      r_.Bool(*bfd, "enabled", &p.bfd.enabled);
      r_.IntAs(*bfd, "interval_ms", 1, 60000, &p.bfd.interval_ms, false);
      r_.IntAs(*bfd, "multiplier", 1, 255, &p.bfd.multiplier, false);
    }
    const YamlNode* links = YamlReader::Present(n, "links");
    if (links && r_.ExpectMap(*links, "peering links", {"primary", "secondary"})) {
      r_.Str(*links, "primary", &p.primary_router, false);
      r_.Str(*links, "secondary", &p.secondary_router, false);
    }
    p.advertise = r_.Prefixes(n, "advertise", false);
    const YamlNode* rf = YamlReader::Present(n, "route_filter");
    if (rf && r_.ExpectMap(*rf, "a route filter", {"communities"})) {
      p.has_route_filter = true;
      p.route_filter_communities = r_.Strings(*rf, "communities");
    }
    p.nat_pool = r_.Prefixes(n, "nat_pool", false);
    r_.IntAs(n, "as_path_prepend", 0, 32, &p.as_path_prepend, false);
    r_.IntAs(n, "local_pref", 0, 2147483647, &p.local_pref, false);
    if (p.type == PeeringType::kPrivate && (p.has_route_filter || !p.nat_pool.empty())) {
      r_.Error(n, "route_filter and nat_pool apply to microsoft peering only");
    }
    c->peerings.push_back(std::move(p));
  }

  GatewayRef GatewayRefOf(const YamlNode& n, const char* key) {
    GatewayRef ref;
    std::string s;
    if (!r_.Str(n, key, &s, true)) return ref;
    size_t slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) {
      r_.Error(*n.Get(key), std::string("'") + key + "' is written VNET/GATEWAY, not '" + s + "'");
      return ref;
    }
    ref.vnet = s.substr(0, slash);
    ref.gateway = s.substr(slash + 1);
    return ref;
  }

  void ConnectionNode(const YamlNode& n, Topology* t) {
    Connection c;
    c.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a connection", {"name", "gateway", "circuit", "weight", "fastpath"})) {
      return;
    }
    r_.Str(n, "name", &c.name, true);
    c.gateway = GatewayRefOf(n, "gateway");
    r_.Str(n, "circuit", &c.circuit, true);
    r_.IntAs(n, "weight", 0, 32000, &c.weight, false);
    r_.Bool(n, "fastpath", &c.fastpath);
    t->connections.push_back(std::move(c));
  }

  void VpnNode(const YamlNode& n, Topology* t) {
    VpnConnection v;
    v.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a vpn connection",
                      {"name", "gateway", "site", "router", "bgp", "local_pref", "over_circuit"})) {
      return;
    }
    r_.Str(n, "name", &v.name, true);
    v.gateway = GatewayRefOf(n, "gateway");
    r_.Str(n, "site", &v.site, true);
    r_.Str(n, "router", &v.router, false);
    r_.Bool(n, "bgp", &v.bgp);
    r_.IntAs(n, "local_pref", 0, 2147483647, &v.local_pref, false);
    r_.Str(n, "over_circuit", &v.over_circuit, false);
    t->vpn_connections.push_back(std::move(v));
  }

  void GlobalReachNode(const YamlNode& n, Topology* t) {
    GlobalReach g;
    g.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "a global reach connection", {"circuits", "prefix"})) return;
    std::vector<std::string> cs = r_.Strings(n, "circuits");
    if (cs.size() != 2) {
      r_.Error(n, "global_reach needs exactly two circuits");
    } else {
      g.circuit_a = cs[0];
      g.circuit_b = cs[1];
    }
    std::optional<IpPrefix> p;
    if (r_.Prefix(n, "prefix", &p, true)) g.prefix = *p;
    t->global_reach.push_back(std::move(g));
  }

  void DrNode(const YamlNode& n, Topology* t) {
    DrConfig d;
    d.loc = YamlReader::LocOf(n);
    if (!r_.ExpectMap(n, "dr",
                      {"source_region", "target_region", "ip_strategy", "network_mapping",
                       "replication_path"})) {
      return;
    }
    r_.Str(n, "source_region", &d.source_region, false);  // absent: on-premises source
    r_.Str(n, "target_region", &d.target_region, true);
    r_.Enum(n, "ip_strategy", {"retain", "new"}, &d.ip_strategy, false);
    for (const auto& mn : r_.Seq(n, "network_mapping")) {
      NetworkMapping m;
      m.loc = YamlReader::LocOf(mn);
      if (!r_.ExpectMap(mn, "a network mapping", {"source", "target", "drill"})) continue;
      r_.Str(mn, "source", &m.source, true);
      r_.Str(mn, "target", &m.target, true);
      r_.Str(mn, "drill", &m.drill, false);
      d.network_mapping.push_back(std::move(m));
    }
    const YamlNode* rp = YamlReader::Present(n, "replication_path");
    if (rp && r_.ExpectMap(*rp, "a replication path", {"site", "peering"})) {
      d.replication_loc = YamlReader::LocOf(*rp);
      r_.Str(*rp, "site", &d.replication_site, true);
      r_.Enum(*rp, "peering", {"private", "microsoft"}, &d.replication_peering, true);
    }
    t->dr = std::move(d);
  }

  YamlReader r_;
};

}  // namespace

Result<Topology> ParseTopology(std::string_view yaml_text, const std::string& file_name) {
  if (yaml_text.size() > kMaxTopologyBytes) {
    return Status::InvalidArgument(file_name + ": larger than " +
                                   std::to_string(kMaxTopologyBytes >> 20) + " MiB");
  }
  // Nesting depth, aliases and syntax are bounded and reported by YamlDoc.
  LL_ASSIGN_OR_RETURN(std::unique_ptr<YamlDoc> doc, YamlDoc::Parse(yaml_text, file_name));
  const YamlNode* root = doc->root();
  if (!root || root->IsNull()) {
    return Status::InvalidArgument(file_name + ":1:1: the file is empty");
  }
  Topology t;
  t.file = file_name;
  Parser p(file_name);
  p.Top(*root, &t);
  if (!p.reader().has_errors()) ResolveReferences(t, &p.reader());
  const std::vector<std::string> errors = p.reader().SortedErrors();
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    if (p.reader().dropped_errors() > 0) {
      msg += "\n(" + std::to_string(p.reader().dropped_errors()) + " more errors not shown)";
    }
    return Status::InvalidArgument(msg);
  }
  return t;
}

Result<Topology> LoadTopology(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open topology file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read topology file " + path);
  return ParseTopology(ss.str(), path);
}

}  // namespace lifeline::net
