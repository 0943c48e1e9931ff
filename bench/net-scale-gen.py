#!/usr/bin/env python3
"""Generates a large topology file for bench/net-scale: hubs with ExpressRoute gateways,
spokes using them through peering, circuits at several peering locations, sites that
advertise many prefixes. Deterministic (no randomness): same arguments, same file.

usage: net-scale-gen.py OUT.yaml [--vnets 5000] [--circuits 200] [--routes 20000]
"""
import argparse
import ipaddress


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--vnets", type=int, default=5000)
    ap.add_argument("--circuits", type=int, default=200)
    ap.add_argument("--routes", type=int, default=20000)
    a = ap.parse_args()

    hubs = a.circuits // 2                # each hub links two circuits at two locations
    spokes = a.vnets - hubs
    per_circuit = a.routes // a.circuits  # prefixes each circuit's private peering announces
    circuits_per_site = 4
    sites = (a.circuits + circuits_per_site - 1) // circuits_per_site
    locations = [f"loc{i}" for i in range(10)]
    site_pool = ipaddress.ip_network("172.16.0.0/12").subnets(new_prefix=27)

    out = []
    w = out.append
    w("name: net-scale")
    w("regions:")
    w("  - {name: eastasia, geo: asia-pacific}")
    w("  - {name: southeastasia, geo: asia-pacific}")
    w("peering_locations:")
    for l in locations:
        w(f"  - {{name: {l}, geo: asia-pacific}}")
    site_prefixes = []
    w("sites:")
    for s in range(sites):
        ps = [str(next(site_pool)) for _ in range(per_circuit * circuits_per_site)]
        site_prefixes.append(ps)
        w(f"  - name: site{s}")
        w(f"    prefixes: [{', '.join(ps)}]")
        w(f"    routers: [{{name: s{s}-e1, asn: {64600 + s}}}, {{name: s{s}-e2, asn: {64600 + s}}}]")

    def vnet_space(i):
        return f"10.{i // 256}.{i % 256}.0/24", f"10.{i // 256}.{i % 256}"

    w("vnets:")
    for h in range(hubs):
        space, base = vnet_space(h)
        w(f"  - name: hub{h}")
        w(f"    region: {'eastasia' if h % 2 == 0 else 'southeastasia'}")
        w(f"    address_space: [{space}]")
        w(f"    subnets: [{{name: nva, prefix: {base}.0/25}}, {{name: GatewaySubnet, prefix: {base}.128/25}}]")
        w("    gateways: [{name: ergw, type: expressroute, sku: ErGw3AZ, public_ip: {sku: standard}}]")
        w(f"    appliances: [{{name: nva, ip: {base}.10}}]")
    for k in range(spokes):
        i = hubs + k
        space, base = vnet_space(i)
        h = k % hubs
        w(f"  - name: spoke{k}")
        w(f"    region: {'eastasia' if h % 2 == 0 else 'southeastasia'}")
        w(f"    address_space: [{space}]")
        w(f"    subnets: [{{name: app, prefix: {base}.0/25}}]")
        w("    service_endpoints: [{subnet: app, service: storage}]")
    w("vnet_peerings:")
    for k in range(spokes):
        h = k % hubs
        w(f"  - {{from: spoke{k}, to: hub{h}, allow_forwarded_traffic: true, use_remote_gateways: true}}")
        w(f"  - {{from: hub{h}, to: spoke{k}, allow_forwarded_traffic: true, allow_gateway_transit: true}}")
    w("route_tables:")
    for h in range(hubs):
        members = [f"spoke{k}/app" for k in range(h, spokes, hubs)]
        _, base = vnet_space(h)
        w(f"  - name: rt{h}")
        w(f"    subnets: [{', '.join(members)}]")
        w(f"    routes: [{{prefix: 0.0.0.0/0, next_hop: appliance, next_hop_ip: {base}.10}}]")
    w("circuits:")
    link_pool = ipaddress.ip_network("192.168.0.0/16").subnets(new_prefix=30)
    for c in range(a.circuits):
        s = c // circuits_per_site
        j = c % circuits_per_site
        adv = site_prefixes[s][j * per_circuit:(j + 1) * per_circuit]
        w(f"  - name: er{c}")
        w("    provider: {name: ExampleCarrier}")
        w(f"    peering_location: {locations[c % len(locations)]}")
        w("    bandwidth_mbps: 1000")
        w("    sku: {tier: Standard, family: MeteredData, name: Standard_MeteredData}")
        w("    peerings:")
        w(f"      - {{type: private, peer_asn: {64600 + s}, vlan: 100, "
          f"primary_prefix: {next(link_pool)}, secondary_prefix: {next(link_pool)}, "
          f"bfd: {{enabled: true}}, links: {{primary: s{s}-e1, secondary: s{s}-e2}},")
        w(f"         advertise: [{', '.join(adv)}]}}")
    w("connections:")
    for h in range(hubs):
        for c in (2 * h, 2 * h + 1):
            w(f"  - {{name: hub{h}-er{c}, gateway: hub{h}/ergw, circuit: er{c}, weight: {c % 2}}}")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
