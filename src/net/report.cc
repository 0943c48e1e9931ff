// Text layouts are fixed-width columns so that golden files diff well.
#include "net/report.h"

#include <charconv>
#include <cstdio>
#include <iomanip>

namespace lifeline::net {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string ElementsText(const std::vector<Element>& es) {
  std::string s;
  for (const auto& e : es)
    s += (s.empty() ? "" : ", ") + std::string(ElementKindName(e.kind)) + " " + e.name;
  return s;
}

void Pad(std::string* line, std::string_view field, size_t width) {
  line->append(field);
  if (field.size() < width) line->append(width - field.size(), ' ');
}

void AppendInt(std::string* out, long long v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Built by hand into one string rather than with iostream manipulators: `net routes` on a
// large topology writes millions of lines, and this is most of its time.
void AppendEntries(std::string* out, const std::vector<RouteEntry>& es, bool site) {
  std::string& line = *out;
  for (const auto& e : es) {
    line += e.active ? "  * " : "    ";
    size_t start = line.size();
    e.prefix.AppendTo(&line);
    if (line.size() - start < 20) line.append(20 - (line.size() - start), ' ');
    Pad(&line, RouteSourceName(e.origin), 7);
    Pad(&line, RouteOriginName(e.origin), 13);
    Pad(&line, e.next_hop_type, 22);
    if (e.next_hops.empty()) line += '-';
    for (size_t i = 0; i < e.next_hops.size(); ++i) {
      if (i) line += '+';
      line += e.next_hops[i];
    }
    if (site) {
      line += "  lp=";
      AppendInt(&line, e.local_pref);
      line += " aspath=";
      AppendInt(&line, e.as_path_length);
    } else if (e.origin == RouteOrigin::kExpressRoute) {
      line += "  weight=";
      AppendInt(&line, e.weight);
      line += " aspath=";
      AppendInt(&line, e.as_path_length);
    }
    if (!e.note.empty()) {
      line += "  (";
      line += e.note;
      line += ')';
    }
    line += '\n';
  }
}

void JsonString(std::string* out, std::string_view v) {
  *out += '"';
  for (char c : v) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          *out += c;
        }
    }
  }
  *out += '"';
}

void AppendEntriesJson(std::string* out, const std::vector<RouteEntry>& es) {
  std::string& line = *out;
  line += '[';
  std::string prefix;
  for (size_t i = 0; i < es.size(); ++i) {
    const RouteEntry& e = es[i];
    line += i ? ",\n    {" : "\n    {";
    line += "\"prefix\": ";
    prefix.clear();
    e.prefix.AppendTo(&prefix);
    JsonString(&line, prefix);
    line += ", \"source\": ";
    JsonString(&line, RouteSourceName(e.origin));
    line += ", \"origin\": ";
    JsonString(&line, RouteOriginName(e.origin));
    line += ", \"next_hop_type\": ";
    JsonString(&line, e.next_hop_type);
    line += ", \"next_hops\": [";
    for (size_t k = 0; k < e.next_hops.size(); ++k) {
      if (k) line += ", ";
      JsonString(&line, e.next_hops[k]);
    }
    line += "], \"active\": ";
    line += e.active ? "true" : "false";
    if (!e.via.empty()) {
      line += ", \"via\": ";
      JsonString(&line, e.via);
    }
    if (e.origin == RouteOrigin::kExpressRoute || e.origin == RouteOrigin::kVpn) {
      line += ", \"weight\": ";
      AppendInt(&line, e.weight);
      line += ", \"as_path_length\": ";
      AppendInt(&line, e.as_path_length);
      line += ", \"local_pref\": ";
      AppendInt(&line, e.local_pref);
    }
    if (!e.note.empty()) {
      line += ", \"note\": ";
      JsonString(&line, e.note);
    }
    line += '}';
  }
  line += es.empty() ? "]" : "\n  ]";
}

}  // namespace

void WriteFindingsText(std::ostream& os, const std::string& file, const std::vector<Finding>& fs) {
  int counts[3] = {0, 0, 0};
  for (const auto& f : fs) {
    ++counts[static_cast<int>(f.severity)];
    os << file << ":" << f.loc.line << ":" << f.loc.column << ": " << SeverityName(f.severity)
       << " [" << f.rule_id << "] " << f.element << ": " << f.message << "\n    fix: " << f.fix
       << "\n";
  }
  os << counts[0] << " errors, " << counts[1] << " warnings, " << counts[2] << " advice\n";
}

nlohmann::json FindingsJson(const std::string& file, const std::vector<Finding>& fs) {
  nlohmann::json a = nlohmann::json::array();
  int counts[3] = {0, 0, 0};
  for (const auto& f : fs) {
    ++counts[static_cast<int>(f.severity)];
    a.push_back({{"rule", f.rule_id},
                 {"severity", SeverityName(f.severity)},
                 {"file", file},
                 {"line", f.loc.line},
                 {"column", f.loc.column},
                 {"element", f.element},
                 {"message", f.message},
                 {"fix", f.fix}});
  }
  return {{"findings", a}, {"errors", counts[0]}, {"warnings", counts[1]}, {"advice", counts[2]}};
}

void WriteRulesText(std::ostream& os) {
  for (const auto& r : AllRules()) {
    os << std::left << std::setw(30) << r.id << std::setw(9) << SeverityName(r.severity)
       << r.summary << "  [" << r.source << "]" << (r.needs_old ? " (with --against)" : "") << "\n";
  }
  os << AllRules().size() << " rules\n";
}

nlohmann::json RulesJson() {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : AllRules()) {
    a.push_back({{"id", r.id},
                 {"severity", SeverityName(r.severity)},
                 {"source", r.source},
                 {"summary", r.summary},
                 {"needs_against", r.needs_old}});
  }
  return {{"rules", a}};
}

void AppendVnetRoutesText(std::string* out, const VnetRouteTable& t) {
  *out += "vnet ";
  *out += t.vnet;
  if (!t.subnet.empty()) {
    *out += " subnet ";
    *out += t.subnet;
  }
  *out += '\n';
  AppendEntries(out, t.entries, false);
}

void AppendRouterRoutesText(std::string* out, const RouterRouteTable& t) {
  *out += "site ";
  *out += t.site;
  *out += " router ";
  *out += t.router;
  *out += '\n';
  AppendEntries(out, t.entries, true);
}

void AppendVnetRoutesJson(std::string* out, const VnetRouteTable& t) {
  *out += "{\"vnet\": ";
  JsonString(out, t.vnet);
  if (!t.subnet.empty()) {
    *out += ", \"subnet\": ";
    JsonString(out, t.subnet);
  }
  *out += ", \"routes\": ";
  AppendEntriesJson(out, t.entries);
  *out += '}';
}

void AppendRouterRoutesJson(std::string* out, const RouterRouteTable& t) {
  *out += "{\"site\": ";
  JsonString(out, t.site);
  *out += ", \"router\": ";
  JsonString(out, t.router);
  *out += ", \"routes\": ";
  AppendEntriesJson(out, t.entries);
  *out += '}';
}

namespace {
template <typename Table>
void WriteVia(std::ostream& os, const Table& t, void (*append)(std::string*, const Table&)) {
  std::string s;
  append(&s, t);
  os.write(s.data(), static_cast<std::streamsize>(s.size()));
}
}  // namespace

void WriteVnetRoutesText(std::ostream& os, const VnetRouteTable& t) {
  WriteVia(os, t, AppendVnetRoutesText);
}
void WriteRouterRoutesText(std::ostream& os, const RouterRouteTable& t) {
  WriteVia(os, t, AppendRouterRoutesText);
}
void WriteVnetRoutesJson(std::ostream& os, const VnetRouteTable& t) {
  WriteVia(os, t, AppendVnetRoutesJson);
}
void WriteRouterRoutesJson(std::ostream& os, const RouterRouteTable& t) {
  WriteVia(os, t, AppendRouterRoutesJson);
}

void WriteSimulationText(std::ostream& os, const SimulationResult& r) {
  os << "failure: " << ElementsText(r.failed) << "\n";
  for (const auto& f : r.flows) {
    os << "  " << f.flow << (f.affected ? "  AFFECTED" : "") << "\n";
    os << "    before: " << f.path_before << "\n";
    os << "    after:  " << f.path_after << "\n";
    if (f.outage_s) {
      os << "    outage: " << Num(*f.outage_s) << " s = detection " << Num(*f.detection_s) << " s ("
         << f.detection_how << ") + convergence " << Num(*f.convergence_s) << " s, "
         << Num(f.affected_fraction * 100) << "% of sessions\n";
    }
    if (f.kind == "site-vnet") {
      auto cap = [&](int64_t mbps, bool reachable) {
        return mbps > 0 || !reachable ? std::to_string(mbps) : std::string("unknown");
      };
      os << "    capacity: " << cap(f.capacity_before_mbps, f.reachable_before) << " -> "
         << cap(f.capacity_after_mbps, f.reachable_after) << " Mbps\n";
    }
    if (!f.note.empty()) os << "    note: " << f.note << "\n";
  }
  os << "summary: " << r.affected << " affected, " << r.unreachable << " unreachable, worst outage "
     << Num(r.worst_outage_s) << " s\n";
}

nlohmann::json SimulationJson(const SimulationResult& r) {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& e : r.failed)
    failed.push_back({{"kind", ElementKindName(e.kind)}, {"name", e.name}});
  nlohmann::json flows = nlohmann::json::array();
  for (const auto& f : r.flows) {
    nlohmann::json j = {{"flow", f.flow},
                        {"kind", f.kind},
                        {"path_before", f.path_before},
                        {"path_after", f.path_after},
                        {"reachable_before", f.reachable_before},
                        {"reachable_after", f.reachable_after},
                        {"affected", f.affected},
                        {"affected_fraction", f.affected_fraction},
                        {"capacity_before_mbps", f.capacity_before_mbps},
                        {"capacity_after_mbps", f.capacity_after_mbps}};
    j["detection_s"] = f.detection_s ? nlohmann::json(*f.detection_s) : nlohmann::json();
    j["convergence_s"] = f.convergence_s ? nlohmann::json(*f.convergence_s) : nlohmann::json();
    j["outage_s"] = f.outage_s ? nlohmann::json(*f.outage_s) : nlohmann::json();
    if (!f.detection_how.empty()) j["detection"] = f.detection_how;
    if (!f.note.empty()) j["note"] = f.note;
    flows.push_back(std::move(j));
  }
  return {{"failed", failed},
          {"flows", flows},
          {"affected", r.affected},
          {"unreachable", r.unreachable},
          {"worst_outage_s", r.worst_outage_s}};
}

void WriteRankingText(std::ostream& os, const std::vector<SimulationResult>& rs) {
  int rank = 0;
  for (const auto& r : rs) {
    os << std::right << std::setw(3) << ++rank << ". " << std::left << std::setw(34)
       << ElementsText(r.failed) << " unreachable " << r.unreachable << ", affected " << r.affected
       << ", worst outage " << Num(r.worst_outage_s) << " s\n";
  }
}

void WritePlanText(std::ostream& os, const RecoveryPlan& p) {
  os << "recovery " << (p.source_region.empty() ? "on-premises" : p.source_region) << " -> "
     << p.target_region << " (ip_strategy " << p.ip_strategy << ")\n";
  os << "networks:\n";
  for (const auto& n : p.networks) {
    os << "  " << std::left << std::setw(9) << n.role << n.name << " (from " << n.source << ", "
       << (n.exists ? "exists" : "derived") << "):";
    for (const auto& a : n.address_space) os << " " << a.ToString();
    os << "\n";
    for (const auto& s : n.subnets)
      os << "      subnet " << s.name << " " << s.prefix.ToString() << "\n";
  }
  os << "conflicts:\n";
  if (p.conflicts.empty()) os << "  none\n";
  for (const auto& c : p.conflicts)
    os << "  [" << c.id << "] " << c.message << "\n    fix: " << c.fix << "\n";
  os << "steps:\n";
  for (const auto& s : p.steps) {
    os << "  " << s.order << ". " << std::left << std::setw(22) << s.action << s.element << "  "
       << Num(s.minutes) << " min" << (s.preprovisioned ? " (pre-provisioned)" : "")
       << (s.note.empty() ? "" : "  - " + s.note) << "\n";
  }
  os << "network time in RTO: " << Num(p.rto_network_minutes) << " min\n";
}

nlohmann::json PlanJson(const RecoveryPlan& p) {
  nlohmann::json nets = nlohmann::json::array();
  for (const auto& n : p.networks) {
    nlohmann::json space = nlohmann::json::array(), subnets = nlohmann::json::array();
    for (const auto& a : n.address_space) space.push_back(a.ToString());
    for (const auto& s : n.subnets)
      subnets.push_back({{"name", s.name}, {"prefix", s.prefix.ToString()}});
    nets.push_back({{"role", n.role},
                    {"name", n.name},
                    {"source", n.source},
                    {"region", n.region},
                    {"exists", n.exists},
                    {"address_space", space},
                    {"subnets", subnets}});
  }
  nlohmann::json conflicts = nlohmann::json::array();
  for (const auto& c : p.conflicts)
    conflicts.push_back({{"id", c.id}, {"message", c.message}, {"fix", c.fix}});
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : p.steps) {
    steps.push_back({{"order", s.order},
                     {"action", s.action},
                     {"element", s.element},
                     {"minutes", s.minutes},
                     {"preprovisioned", s.preprovisioned},
                     {"note", s.note}});
  }
  return {{"source_region", p.source_region},
          {"target_region", p.target_region},
          {"ip_strategy", p.ip_strategy},
          {"networks", nets},
          {"conflicts", conflicts},
          {"steps", steps},
          {"rto_network_minutes", p.rto_network_minutes}};
}

}  // namespace lifeline::net
