// Turns the model into the lab's blueprint. Addresses: circuit links use the peering's /30s
// (site router .1, MSEE .2, as the provider does); every other link gets a /30 from
// 100.64.0.0/10, which only ever exists inside the lab's own namespaces.
#include "lab/lab_plan.h"

#include <algorithm>
#include <map>

#include "net/index.h"

namespace lifeline::lab {
namespace {

std::string Sanitize(std::string s) {
  for (char& c : s)
    if (c == '/' || c == '_' || c == '.') c = '-';
  return s;
}

// BIRD protocol names: letters, digits, underscores; prefixed so no keyword is hit.
std::string ProtoName(const std::string& prefix, const std::string& s) {
  std::string out = prefix + "_";
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// The n-th host address of an IPv4 prefix, without length.
std::string HostAddress(const net::IpPrefix& p, int n) {
  std::array<uint8_t, 16> b = p.bytes();
  uint32_t v = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  v += n;
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
         std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
}

class Planner {
 public:
  Planner(const net::Topology& t, const std::string& lab) : t_(t), idx_(t), lab_(lab) {
    plan_.lab = lab;
  }

  Result<LabPlan> Build();

 private:
  std::string NsName(const std::string& kind, const std::string& element) const {
    return LabPrefix(lab_) + kind + "-" + Sanitize(element);
  }
  // A fresh /30 from the lab's private range: {side a, side b} with length.
  std::pair<std::string, std::string> NextInternal() {
    int k = internal_++;
    std::string base =
        "100." + std::to_string(64 + k / 16384) + "." + std::to_string((k / 64) % 256) + ".";
    int off = (k % 64) * 4;
    return {base + std::to_string(off + 1), base + std::to_string(off + 2)};
  }
  Link& AddLink(const std::string& a, const std::string& b) {
    Link l;
    int n = static_cast<int>(plan_.links.size());
    l.ns_a = a;
    l.ns_b = b;
    l.if_a = "ll" + std::to_string(n) + "a";
    l.if_b = "ll" + std::to_string(n) + "b";
    plan_.links.push_back(l);
    return plan_.links.back();
  }
  RouterConfig& AddRouter(const std::string& ns, const std::string& element, uint32_t asn) {
    RouterConfig r;
    r.ns = ns;
    r.element = element;
    r.asn = asn;
    int n = static_cast<int>(plan_.routers.size()) + 1;
    r.router_id = "100.127." + std::to_string(n / 256) + "." + std::to_string(n % 256);
    plan_.routers.push_back(r);
    router_index_[ns] = plan_.routers.size() - 1;
    return plan_.routers.back();
  }
  RouterConfig& RouterOf(const std::string& ns) { return plan_.routers[router_index_.at(ns)]; }
  void AddNs(const std::string& name, const std::string& element, NsRole role) {
    plan_.namespaces.push_back(Namespace{name, element, role, "", ""});
  }
  Namespace& Ns(const std::string& name) {
    for (auto& n : plan_.namespaces)
      if (n.name == name) return n;
    LL_CHECK(false);
    return plan_.namespaces.front();
  }

  const net::Topology& t_;
  net::TopologyIndex idx_;
  std::string lab_;
  LabPlan plan_;
  int internal_ = 0;
  std::map<std::string, size_t> router_index_;
};

Result<LabPlan> Planner::Build() {
  // Sites: a host namespace (the site's LAN) and one namespace per edge router; iBGP
  // between the host and each router, so the host follows the routers' best paths.
  std::map<std::string, std::string> site_host_ns;
  for (const auto& s : t_.sites) {
    if (s.prefixes.empty() || s.prefixes[0].v6())
      return Status::InvalidArgument("lab: site '" + s.name + "' needs an IPv4 prefix");
    std::string host = NsName("s", s.name);
    AddNs(host, s.name, NsRole::kSiteHost);
    std::string host_addr = HostAddress(s.prefixes[0], 10);
    Ns(host).host_address = host_addr;
    site_host_ns[s.name] = host;
    uint32_t asn = s.routers.empty() ? 65000 : s.routers[0].asn;
    AddRouter(host, s.name, asn).pref_src = host_addr;
    for (const auto& r : s.routers) {
      std::string rns = NsName("r", r.name);
      AddNs(rns, r.name, NsRole::kSiteRouter);
      AddRouter(rns, r.name, r.asn);
      auto [ra, hb] = NextInternal();
      Link& l = AddLink(rns, host);
      l.addr_a = ra + "/30";
      l.addr_b = hb + "/30";
      l.element = r.name + "/lan";
      for (const auto& p : s.prefixes)
        if (!p.v6()) RouterOf(rns).statics.push_back({p.ToString(), hb});
      BgpNeighbor to_host;
      to_host.protocol = ProtoName("lan", s.name);
      to_host.local_address = ra;
      to_host.neighbor_address = hb;
      to_host.local_asn = r.asn;
      to_host.neighbor_asn = asn;
      to_host.hold_s = 30;
      to_host.keepalive_s = 10;
      to_host.ibgp_next_hop_self = true;
      to_host.export_what = BgpNeighbor::Export::kBgp;
      RouterOf(rns).neighbors.push_back(to_host);
      BgpNeighbor to_router = to_host;
      to_router.protocol = ProtoName("edge", r.name);
      to_router.local_address = hb;
      to_router.neighbor_address = ra;
      to_router.local_asn = asn;
      to_router.neighbor_asn = r.asn;
      to_router.ibgp_next_hop_self = false;
      to_router.export_what = BgpNeighbor::Export::kStatic;  // nothing static: exports none
      RouterOf(host).neighbors.push_back(to_router);
    }
  }

  // VNets and gateways. A VNet's namespace hangs off the gateway namespace its traffic to
  // on-premises uses (its own gateway, or the hub's through gateway transit).
  std::map<std::string, std::string> gateway_ns;  // "vnet/gw" -> ns
  for (const auto& v : t_.vnets) {
    std::string vns = NsName("v", v.name);
    AddNs(vns, v.name, NsRole::kVnet);
    for (const auto& a : v.address_space) {
      if (!a.v6()) {
        Ns(vns).host_address = HostAddress(a, 4);  // the first address a VM can get
        break;
      }
    }
    for (const auto& g : v.gateways) {
      std::string gns = NsName("g", v.name + "-" + g.name);
      AddNs(gns, v.name + "/" + g.name, NsRole::kGateway);
      AddRouter(gns, v.name + "/" + g.name, g.asn.value_or(65515));
      gateway_ns[v.name + "/" + g.name] = gns;
    }
  }
  for (const auto& v : t_.vnets) {
    const net::Vnet* gv = idx_.GatewayVnet(v);
    if (!gv) continue;
    const net::Gateway* er = idx_.GatewayOfType(*gv, net::GatewayType::kExpressRoute);
    const net::Gateway* vpn = idx_.GatewayOfType(*gv, net::GatewayType::kVpn);
    const net::Gateway* g = er ? er : vpn;
    if (!g) continue;
    std::string gns = gateway_ns.at(gv->name + "/" + g->name);
    std::string vns = NsName("v", v.name);
    auto [ga, vb] = NextInternal();
    Link& l = AddLink(gns, vns);
    l.addr_a = ga + "/30";
    l.addr_b = vb + "/30";
    l.element = v.name + "/peering";
    Ns(vns).default_via = ga;
    for (const auto& a : v.address_space)
      if (!a.v6()) RouterOf(gns).statics.push_back({a.ToString(), vb});
  }
  // A VNet with both gateways: the VPN gateway reaches the VNet through the ER gateway's
  // namespace (the GatewaySubnet), with iBGP so either can carry the other's routes.
  for (const auto& v : t_.vnets) {
    const net::Gateway* er = idx_.GatewayOfType(v, net::GatewayType::kExpressRoute);
    const net::Gateway* vpn = idx_.GatewayOfType(v, net::GatewayType::kVpn);
    if (!er || !vpn) continue;
    std::string ens = gateway_ns.at(v.name + "/" + er->name);
    std::string vns = gateway_ns.at(v.name + "/" + vpn->name);
    auto [ea, vb] = NextInternal();
    Link& l = AddLink(ens, vns);
    l.addr_a = ea + "/30";
    l.addr_b = vb + "/30";
    l.element = v.name + "/gatewaysubnet";
    BgpNeighbor n;
    n.protocol = ProtoName("gwsub", v.name);
    n.local_address = ea;
    n.neighbor_address = vb;
    n.local_asn = RouterOf(ens).asn;
    n.neighbor_asn = RouterOf(vns).asn;
    n.hold_s = 30;
    n.keepalive_s = 10;
    n.ibgp_next_hop_self = true;
    n.export_what = BgpNeighbor::Export::kAll;
    RouterOf(ens).neighbors.push_back(n);
    std::swap(n.local_address, n.neighbor_address);
    std::swap(n.local_asn, n.neighbor_asn);
    RouterOf(vns).neighbors.push_back(n);
    for (const auto& a : v.address_space)
      if (!a.v6()) RouterOf(vns).statics.push_back({a.ToString(), ea});
  }

  // Circuits: an MSEE namespace per link (the provider edge pair), a shaped veth to the
  // site router, and a link to every gateway connected to the circuit.
  for (const auto& c : t_.circuits) {
    const net::CircuitPeering* p = c.Private();
    if (!p || !p->enabled) continue;
    for (int side = 0; side < 2; ++side) {
      bool primary = side == 0;
      const std::string& router = primary ? p->primary_router : p->secondary_router;
      const auto& pfx = primary ? p->primary_prefix : p->secondary_prefix;
      if (router.empty() || !pfx) continue;
      if (pfx->v6() || pfx->length() > 30)
        return Status::InvalidArgument("lab: circuit '" + c.name +
                                       "' needs an IPv4 /30 (or shorter) per link");
      std::string link_name = primary ? "primary" : "secondary";
      std::string element = c.name + "/" + link_name;
      std::string mns = NsName("m", c.name + "-" + (primary ? "1" : "2"));
      // The MSEE as a router is "<link>/msee": "er-hk/primary" alone names the link.
      AddNs(mns, element + "/msee", NsRole::kMsee);
      AddRouter(mns, element + "/msee", kMseeAsn);
      std::string rns = NsName("r", router);
      std::string ce = HostAddress(*pfx, 1);
      std::string msee = HostAddress(*pfx, 2);
      std::string len = "/" + std::to_string(pfx->length());
      Link& l = AddLink(rns, mns);
      l.addr_a = ce + len;
      l.addr_b = msee + len;
      l.rate_mbps = c.bandwidth_mbps;
      l.circuit = c.name;
      l.link = link_name;
      l.element = element;

      const net::Router* r = idx_.FindRouter(router);
      uint32_t site_asn = r ? r->asn : p->peer_asn;
      BgpNeighbor ce_side;
      ce_side.protocol = ProtoName("er", c.name + "_" + link_name);
      ce_side.local_address = ce;
      ce_side.neighbor_address = msee;
      ce_side.local_asn = site_asn;
      ce_side.neighbor_asn = kMseeAsn;
      ce_side.hold_s = p->bgp.hold_s;
      ce_side.keepalive_s = p->bgp.keepalive_s;
      ce_side.bfd = p->bfd.enabled;
      ce_side.bfd_interval_ms = p->bfd.interval_ms;
      ce_side.bfd_multiplier = p->bfd.multiplier;
      ce_side.import_local_pref = p->local_pref;
      ce_side.prepend = p->as_path_prepend;
      ce_side.export_what = BgpNeighbor::Export::kStatic;
      ce_side.circuit = c.name;
      ce_side.link = link_name;
      RouterOf(rns).neighbors.push_back(ce_side);

      BgpNeighbor pe_side;
      pe_side.protocol = ProtoName("ce", router);
      pe_side.local_address = msee;
      pe_side.neighbor_address = ce;
      pe_side.local_asn = kMseeAsn;
      pe_side.neighbor_asn = site_asn;
      pe_side.hold_s = kMseeHoldS;
      pe_side.keepalive_s = kMseeKeepaliveS;
      pe_side.bfd = p->bfd.enabled;
      pe_side.bfd_interval_ms = std::max(p->bfd.interval_ms, kMseeMinBfdIntervalMs);
      pe_side.bfd_multiplier = p->bfd.multiplier;
      pe_side.export_what = BgpNeighbor::Export::kAll;
      RouterOf(mns).neighbors.push_back(pe_side);

      for (const net::Connection* conn : idx_.ConnectionsOfCircuit(c.name)) {
        auto it = gateway_ns.find(conn->gateway.ToString());
        if (it == gateway_ns.end()) continue;
        auto [ma, gb] = NextInternal();
        Link& gl = AddLink(mns, it->second);
        gl.addr_a = ma + "/30";
        gl.addr_b = gb + "/30";
        gl.element = conn->name + "/" + link_name;
        BgpNeighbor to_gw;
        to_gw.protocol = ProtoName("gw", conn->name);
        to_gw.local_address = ma;
        to_gw.neighbor_address = gb;
        to_gw.local_asn = kMseeAsn;
        to_gw.neighbor_asn = RouterOf(it->second).asn;
        to_gw.hold_s = 30;
        to_gw.keepalive_s = 10;
        to_gw.export_what = BgpNeighbor::Export::kAll;
        RouterOf(mns).neighbors.push_back(to_gw);
        BgpNeighbor to_msee;
        to_msee.protocol = ProtoName("er", c.name + "_" + link_name);
        to_msee.local_address = gb;
        to_msee.neighbor_address = ma;
        to_msee.local_asn = to_gw.neighbor_asn;
        to_msee.neighbor_asn = kMseeAsn;
        to_msee.hold_s = 30;
        to_msee.keepalive_s = 10;
        // The gateway prefers ExpressRoute over VPN, then the connection weight.
        to_msee.import_local_pref = 1000 + conn->weight;
        to_msee.export_what = BgpNeighbor::Export::kStatic;
        to_msee.circuit = c.name;
        to_msee.link = link_name;
        RouterOf(it->second).neighbors.push_back(to_msee);
      }
    }
  }

  // Site-to-site VPNs: a link from the site router to the VPN gateway, less preferred.
  for (const auto& v : t_.vpn_connections) {
    auto it = gateway_ns.find(v.gateway.ToString());
    const net::Router* r = idx_.FindRouter(v.router);
    if (it == gateway_ns.end() || !r || !v.bgp) continue;
    std::string rns = NsName("r", v.router);
    auto [ra, gb] = NextInternal();
    Link& l = AddLink(rns, it->second);
    l.addr_a = ra + "/30";
    l.addr_b = gb + "/30";
    l.element = v.name;
    BgpNeighbor ce;
    ce.protocol = ProtoName("vpn", v.name);
    ce.local_address = ra;
    ce.neighbor_address = gb;
    ce.local_asn = r->asn;
    ce.neighbor_asn = RouterOf(it->second).asn;
    ce.hold_s = 30;
    ce.keepalive_s = 10;
    ce.import_local_pref = v.local_pref;
    ce.export_what = BgpNeighbor::Export::kStatic;
    ce.vpn = v.name;
    RouterOf(rns).neighbors.push_back(ce);
    BgpNeighbor gw = ce;
    gw.local_address = gb;
    gw.neighbor_address = ra;
    std::swap(gw.local_asn, gw.neighbor_asn);
    gw.import_local_pref = 100;
    gw.export_what = BgpNeighbor::Export::kStatic;
    RouterOf(it->second).neighbors.push_back(gw);
  }
  if (plan_.links.size() > 1000) return Status::InvalidArgument("lab: too many links (>1000)");
  return std::move(plan_);
}

}  // namespace

const char* NsRoleName(NsRole r) {
  switch (r) {
    case NsRole::kSiteRouter:
      return "site_router";
    case NsRole::kSiteHost:
      return "site_host";
    case NsRole::kMsee:
      return "msee";
    case NsRole::kGateway:
      return "gateway";
    case NsRole::kVnet:
      return "vnet";
  }
  return "?";
}

std::string LabPrefix(const std::string& lab) { return "ll-" + lab + "-"; }

Status ValidateLabName(const std::string& lab) {
  if (lab.empty() || lab.size() > 8)
    return Status::InvalidArgument("lab name must be 1-8 characters: '" + lab + "'");
  for (char c : lab)
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)))
      return Status::InvalidArgument("lab name must be lower-case letters and digits: '" + lab +
                                     "'");
  return Status::Ok();
}

Result<LabPlan> BuildLabPlan(const net::Topology& t, const std::string& lab) {
  LL_RETURN_IF_ERROR(ValidateLabName(lab));
  Planner p(t, lab);
  return p.Build();
}

}  // namespace lifeline::lab
