#include "control/plan.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace lifeline::control {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kOperationNames[] = {"drill", "failover", "failback"};
constexpr std::string_view kActionKindNames[] = {"script", "manual", "network"};

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool ValidEnvName(const std::string& s) {
  if (s.empty() || s.size() > 128 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string_view TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

// Collects issues while walking the document; stops adding past kMaxPlanIssues.
class Parser {
 public:
  std::vector<PlanIssue> issues;

  void Issue(const YAML::Node& at, std::string message) {
    int line = 0, column = 0;
    if (at.IsDefined()) {
      YAML::Mark m = at.Mark();
      line = m.line >= 0 ? m.line + 1 : 0;
      column = m.column >= 0 ? m.column + 1 : 0;
    }
    IssueAt(line, column, std::move(message));
  }
  void IssueAt(int line, int column, std::string message) {
    if (issues.size() < static_cast<size_t>(kMaxPlanIssues)) {
      issues.push_back({line, column, std::move(message)});
    } else if (issues.size() == static_cast<size_t>(kMaxPlanIssues)) {
      issues.push_back({0, 0, "more issues follow; fix these first"});
    }
  }
  bool Full() const { return issues.size() > static_cast<size_t>(kMaxPlanIssues); }

  // Checks that `n` is a map holding only `allowed` keys, each once.
  bool CheckMap(const YAML::Node& n, const std::string& what,
                const std::vector<std::string>& allowed) {
    if (!n.IsMap()) {
      Issue(n, what + " must be a map, got " + std::string(TypeName(n)));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end() && !Full(); ++it) {
      if (!it->first.IsScalar()) {
        Issue(it->first, "keys in " + what + " must be plain words");
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (!seen.insert(key).second) {
        Issue(it->first, "duplicate key '" + key + "' in " + what);
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string m = "unknown key '" + key + "' in " + what;
        std::string s = Suggest(key, allowed);
        if (!s.empty()) {
          m += " (did you mean '" + s + "'?)";
        } else {
          std::string list;
          for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
          m += " (allowed: " + list + ")";
        }
        Issue(it->first, m);
      }
    }
    return true;
  }

  bool Str(const YAML::Node& parent, const std::string& key, const std::string& what,
           std::string* out, bool required, size_t max_bytes = 4096) {
    YAML::Node n = parent[key];
    if (!n.IsDefined()) {
      if (required) Issue(parent, "missing '" + key + "' in " + what);
      return false;
    }
    if (!n.IsScalar()) {
      Issue(n, "'" + key + "' in " + what + " must be a string, got " + std::string(TypeName(n)));
      return false;
    }
    if (n.Scalar().size() > max_bytes) {
      Issue(n,
            "'" + key + "' in " + what + " is longer than " + std::to_string(max_bytes) + " bytes");
      return false;
    }
    *out = n.Scalar();
    return true;
  }

  bool Int(const YAML::Node& parent, const std::string& key, const std::string& what, int64_t* out,
           int64_t min, int64_t max) {
    YAML::Node n = parent[key];
    if (!n.IsDefined()) return false;
    if (!n.IsScalar()) {
      Issue(n, "'" + key + "' in " + what + " must be an integer, got " + std::string(TypeName(n)));
      return false;
    }
    const std::string& s = n.Scalar();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
      Issue(n, "'" + key + "' in " + what + " must be an integer, got '" + s.substr(0, 64) + "'");
      return false;
    }
    if (v < min || v > max) {
      Issue(n, "'" + key + "' in " + what + " must be " + std::to_string(min) + ".." +
                   std::to_string(max) + ", got " + std::to_string(v));
      return false;
    }
    *out = v;
    return true;
  }

  bool Bool(const YAML::Node& parent, const std::string& key, const std::string& what, bool* out) {
    YAML::Node n = parent[key];
    if (!n.IsDefined()) return false;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "yes") {
        *out = true;
        return true;
      }
      if (s == "false" || s == "no") {
        *out = false;
        return true;
      }
    }
    Issue(n, "'" + key + "' in " + what + " must be true or false");
    return false;
  }

  bool StrList(const YAML::Node& parent, const std::string& key, const std::string& what,
               std::vector<std::string>* out, size_t max_items) {
    YAML::Node n = parent[key];
    if (!n.IsDefined()) return false;
    if (!n.IsSequence()) {
      Issue(n, "'" + key + "' in " + what + " must be a list, got " + std::string(TypeName(n)));
      return false;
    }
    if (n.size() > max_items) {
      Issue(n, "'" + key + "' in " + what + " has " + std::to_string(n.size()) +
                   " items, at most " + std::to_string(max_items) + " allowed");
      return false;
    }
    for (const YAML::Node& item : n) {
      if (!item.IsScalar()) {
        Issue(item, "items of '" + key + "' in " + what + " must be strings, got " +
                        std::string(TypeName(item)));
        return false;
      }
      if (item.Scalar().size() > 4096) {
        Issue(item, "an item of '" + key + "' in " + what + " is longer than 4096 bytes");
        return false;
      }
      out->push_back(item.Scalar());
    }
    return true;
  }

  bool StrMap(const YAML::Node& parent, const std::string& key, const std::string& what,
              std::map<std::string, std::string>* out) {
    YAML::Node n = parent[key];
    if (!n.IsDefined()) return false;
    if (!n.IsMap()) {
      Issue(n, "'" + key + "' in " + what + " must be a map, got " + std::string(TypeName(n)));
      return false;
    }
    if (n.size() > static_cast<size_t>(kMaxEnvVars)) {
      Issue(n, "'" + key + "' in " + what + " has more than " + std::to_string(kMaxEnvVars) +
                   " entries");
      return false;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        Issue(it->first, "'" + key + "' in " + what + " must map names to strings");
        return false;
      }
      if (it->second.Scalar().size() > 4096) {
        Issue(it->second, "a value in '" + key + "' in " + what + " is longer than 4096 bytes");
        return false;
      }
      if (!out->emplace(it->first.Scalar(), it->second.Scalar()).second) {
        Issue(it->first, "duplicate key '" + it->first.Scalar() + "' in " + what);
      }
    }
    return true;
  }

  void ParseOnFailure(const YAML::Node& parent, const std::string& what, OnFailure* out) {
    std::string s;
    if (!Str(parent, "on_failure", what, &s, false, 64)) return;
    YAML::Node n = parent["on_failure"];
    if (s == "abort") {
      out->policy = FailurePolicy::kAbort;
    } else if (s == "continue") {
      out->policy = FailurePolicy::kContinue;
    } else if (s.rfind("retry(", 0) == 0 && s.size() > 7 && s.back() == ')') {
      std::string digits = s.substr(6, s.size() - 7);
      int v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec != std::errc() || p != digits.data() + digits.size() || v < 1 || v > kMaxRetries) {
        Issue(n, "on_failure in " + what + ": retry count must be 1.." +
                     std::to_string(kMaxRetries) + ", got '" + digits + "'");
        return;
      }
      out->policy = FailurePolicy::kRetry;
      out->retries = v;
    } else {
      std::string m =
          "on_failure in " + what + " must be abort, continue or retry(N), got '" + s + "'";
      std::string sug = Suggest(s, {"abort", "continue"});
      if (!sug.empty()) m += " (did you mean '" + sug + "'?)";
      Issue(n, m);
    }
  }

  std::optional<Action> ParseAction(const YAML::Node& n, const std::string& where, int index) {
    std::string what = "action " + std::to_string(index + 1) + " of " + where;
    if (!CheckMap(n, what, {"name", "script", "manual", "network", "on_failure", "operations"}))
      return std::nullopt;
    Action a;
    a.line = n.Mark().line + 1;
    int kinds = 0;
    for (const char* k : {"script", "manual", "network"}) kinds += n[k].IsDefined() ? 1 : 0;
    if (kinds != 1) {
      Issue(n,
            what + " needs exactly one of script, manual or network, got " + std::to_string(kinds));
      return std::nullopt;
    }
    if (Str(n, "name", what, &a.name, false, 128) && !ValidName(a.name)) {
      Issue(n["name"], "name '" + a.name + "' in " + what +
                           " may hold only letters, digits, '-', '_' and '.'");
    }
    if (n["script"].IsDefined()) {
      a.kind = ActionKind::kScript;
      const YAML::Node s = n["script"];
      std::string sw = "script of " + what;
      if (CheckMap(s, sw, {"path", "args", "env", "timeout_s", "idempotent"})) {
        if (Str(s, "path", sw, &a.script.path, true) &&
            (a.script.path.empty() || a.script.path[0] != '/')) {
          Issue(s["path"], "script path '" + a.script.path + "' must be absolute");
        }
        StrList(s, "args", sw, &a.script.args, 64);
        if (StrMap(s, "env", sw, &a.script.env)) {
          for (const auto& [k, v] : a.script.env) {
            if (!ValidEnvName(k)) {
              Issue(s["env"], "environment variable '" + k + "' in " + sw +
                                  " must be upper case letters, digits and '_'");
            } else if (k.rfind("LIFELINE_", 0) == 0) {
              Issue(s["env"], "environment variable '" + k + "' in " + sw +
                                  ": the LIFELINE_ prefix is reserved");
            }
          }
        }
        Int(s, "timeout_s", sw, &a.script.timeout_seconds, 1, kMaxScriptTimeoutSeconds);
        Bool(s, "idempotent", sw, &a.script.idempotent);
      }
    } else if (n["manual"].IsDefined()) {
      a.kind = ActionKind::kManual;
      const YAML::Node m = n["manual"];
      std::string mw = "manual step of " + what;
      if (CheckMap(m, mw, {"message", "timeout_s"})) {
        Str(m, "message", mw, &a.manual.message, true);
        Int(m, "timeout_s", mw, &a.manual.timeout_seconds, 0, kMaxManualTimeoutSeconds);
      }
    } else {
      a.kind = ActionKind::kNetwork;
      const YAML::Node m = n["network"];
      std::string nw = "network step of " + what;
      if (CheckMap(m, nw, {"step", "args"})) {
        if (Str(m, "step", nw, &a.network.step, true, 128) && !ValidName(a.network.step)) {
          Issue(m["step"], "network step name '" + a.network.step + "' is not a valid name");
        }
        StrMap(m, "args", nw, &a.network.args);
      }
    }
    ParseOnFailure(n, what, &a.on_failure);
    std::vector<std::string> ops;
    if (StrList(n, "operations", what, &ops, 3)) {
      for (const std::string& op : ops) {
        auto parsed = ParseOperation(op);
        if (!parsed.ok()) {
          std::string m =
              "operation '" + op + "' in " + what + " must be drill, failover or failback";
          std::string sug = Suggest(op, {"drill", "failover", "failback"});
          if (!sug.empty()) m += " (did you mean '" + sug + "'?)";
          Issue(n["operations"], m);
        } else {
          a.operations.insert(*parsed);
        }
      }
    }
    if (a.name.empty()) a.name = std::string(ActionKindName(a.kind)) + "-" + std::to_string(a.line);
    return a;
  }

  void ParseActions(const YAML::Node& group, const std::string& key, const std::string& gwhat,
                    std::vector<Action>* out) {
    YAML::Node n = group[key];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) {
      Issue(n, "'" + key + "' of " + gwhat + " must be a list of actions, got " +
                   std::string(TypeName(n)));
      return;
    }
    if (n.size() > static_cast<size_t>(kMaxActionsPerSide)) {
      Issue(n, "'" + key + "' of " + gwhat + " has " + std::to_string(n.size()) +
                   " actions, at most " + std::to_string(kMaxActionsPerSide) + " allowed");
      return;
    }
    int i = 0;
    for (const YAML::Node& a : n) {
      if (Full()) return;
      auto action = ParseAction(a, "'" + key + "' of " + gwhat, i++);
      if (action) out->push_back(std::move(*action));
    }
  }

  std::optional<Plan> ParseDocument(const YAML::Node& root) {
    if (!CheckMap(root, "the plan", {"version", "name", "description", "groups"}))
      return std::nullopt;
    Plan plan;
    int64_t version = 1;
    if (Int(root, "version", "the plan", &version, 1, 1000) && version != 1) {
      Issue(root["version"], "plan format version " + std::to_string(version) +
                                 " is not supported (this lifeline reads version 1)");
    }
    if (Str(root, "name", "the plan", &plan.name, true, 128) && !ValidName(plan.name)) {
      Issue(root["name"],
            "plan name '" + plan.name + "' may hold only letters, digits, '-', '_' and '.'");
    }
    Str(root, "description", "the plan", &plan.description, false, 4096);
    YAML::Node groups = root["groups"];
    if (!groups.IsDefined()) {
      Issue(root, "missing 'groups' in the plan: a plan needs at least one group");
      return plan;
    }
    if (!groups.IsSequence() || groups.size() == 0) {
      Issue(groups, "'groups' must be a non-empty list, got " + std::string(TypeName(groups)));
      return plan;
    }
    if (groups.size() > static_cast<size_t>(kMaxPlanGroups)) {
      Issue(groups, std::to_string(groups.size()) + " groups: a plan has at most " +
                        std::to_string(kMaxPlanGroups) +
                        " groups (the Site Recovery limit; machines in one group start together, "
                        "so merge groups "
                        "that may start at the same time, or split the plan)");
      return plan;
    }
    std::map<std::string, int> machine_group;
    std::set<std::string> group_names, action_names;
    int gi = 0;
    for (const YAML::Node& g : groups) {
      if (Full()) break;
      std::string gwhat = "group " + std::to_string(++gi);
      if (!CheckMap(g, gwhat, {"name", "machines", "before", "after"})) continue;
      PlanGroup group;
      group.line = g.Mark().line + 1;
      if (Str(g, "name", gwhat, &group.name, false, 128)) {
        if (!ValidName(group.name))
          Issue(g["name"], "group name '" + group.name + "' is not a valid name");
        gwhat = "group '" + group.name + "'";
      } else {
        group.name = "group-" + std::to_string(gi);
      }
      if (!group_names.insert(group.name).second)
        Issue(g, "two groups are named '" + group.name + "'");
      StrList(g, "machines", gwhat, &group.machines, kMaxPlanMachines + 1);
      for (const std::string& m : group.machines) {
        if (!ValidName(m)) {
          Issue(g["machines"], "machine name '" + m + "' in " + gwhat + " is not a valid name");
          continue;
        }
        auto [it, fresh] = machine_group.emplace(m, gi);
        if (!fresh) {
          Issue(g["machines"], "machine " + m + " is in group " + std::to_string(it->second) +
                                   " and in " + gwhat +
                                   ": a machine starts once per plan, keep it in one group");
        }
      }
      ParseActions(g, "before", gwhat, &group.before);
      ParseActions(g, "after", gwhat, &group.after);
      if (group.machines.empty() && group.before.empty() && group.after.empty()) {
        Issue(g, gwhat + " has no machines and no actions");
      }
      for (const auto* side : {&group.before, &group.after}) {
        for (const Action& a : *side) {
          if (!action_names.insert(a.name).second) {
            IssueAt(
                a.line, 0,
                "two actions are named '" + a.name + "': action names must be unique in a plan");
          }
        }
      }
      plan.groups.push_back(std::move(group));
    }
    if (machine_group.size() > static_cast<size_t>(kMaxPlanMachines)) {
      Issue(groups, std::to_string(machine_group.size()) + " machines: a plan holds at most " +
                        std::to_string(kMaxPlanMachines) +
                        " machines (the Site Recovery limit); split it into several plans");
    }
    return plan;
  }
};

// Offset of the first byte that breaks UTF-8, or npos. YAML text is UTF-8, and every
// string here ends up in JSON, which must be valid UTF-8 too.
size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view OperationName(Operation op) { return kOperationNames[static_cast<int>(op)]; }

Result<Operation> ParseOperation(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (kOperationNames[i] == name) return static_cast<Operation>(i);
  }
  return Status::InvalidArgument("operation must be drill, failover or failback, got '" +
                                 std::string(name) + "'");
}

std::string_view ActionKindName(ActionKind kind) {
  return kActionKindNames[static_cast<int>(kind)];
}

std::string OnFailure::ToString() const {
  switch (policy) {
    case FailurePolicy::kAbort:
      return "abort";
    case FailurePolicy::kContinue:
      return "continue";
    case FailurePolicy::kRetry:
      return "retry(" + std::to_string(retries) + ")";
  }
  return "abort";
}

std::vector<std::string> Plan::Machines() const {
  std::vector<std::string> out;
  for (const PlanGroup& g : groups) out.insert(out.end(), g.machines.begin(), g.machines.end());
  return out;
}

std::string PlanParseResult::IssuesText(const std::string& source) const {
  std::string out;
  for (const PlanIssue& i : issues) {
    if (!out.empty()) out += "\n";
    out += source;
    if (i.line > 0) out += ":" + std::to_string(i.line) + ":" + std::to_string(i.column);
    out += ": " + i.message;
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  if (a.size() > 256 || b.size() > 256) return std::max(a.size(), b.size());
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, word.size() / 3 + 1));
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best_d <= limit ? best : "";
}

PlanParseResult ParsePlanYaml(std::string_view yaml, const std::string& source) {
  PlanParseResult result;
  Parser p;
  if (yaml.size() > kMaxPlanYamlBytes) {
    p.IssueAt(0, 0, "plan is " + std::to_string(yaml.size()) + " bytes, more than the 1 MiB limit");
    result.issues = std::move(p.issues);
    return result;
  }
  if (size_t bad = FindInvalidUtf8(yaml); bad != std::string_view::npos) {
    std::string_view before = yaml.substr(0, bad);
    int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    size_t nl = before.rfind('\n');
    int column = static_cast<int>(bad - (nl == std::string_view::npos ? 0 : nl + 1)) + 1;
    p.IssueAt(line, column, "not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
    result.issues = std::move(p.issues);
    return result;
  }
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      p.IssueAt(0, 0, "the plan is empty");
    } else {
      auto plan = p.ParseDocument(root);
      if (plan && p.issues.empty()) {
        plan->source = source;
        result.plan = std::move(plan);
      }
    }
  } catch (const YAML::Exception& e) {
    p.IssueAt(e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0,
              "YAML syntax: " + e.msg);
  } catch (const std::exception& e) {
    p.IssueAt(0, 0, std::string("cannot read the plan: ") + e.what());
  }
  result.issues = std::move(p.issues);
  if (!result.issues.empty()) result.plan.reset();
  return result;
}

Result<Plan> ParsePlan(std::string_view yaml, const std::string& source) {
  PlanParseResult r = ParsePlanYaml(yaml, source);
  if (!r.plan) return Status::InvalidArgument(r.IssuesText(source));
  return std::move(*r.plan);
}

std::vector<PlanIssue> CheckPlanReferences(const Plan& plan, const PlanContext& context) {
  std::vector<PlanIssue> issues;
  std::vector<std::string> machines, steps;
  if (context.known_machines)
    machines.assign(context.known_machines->begin(), context.known_machines->end());
  if (context.network_steps)
    steps.assign(context.network_steps->begin(), context.network_steps->end());
  for (const PlanGroup& g : plan.groups) {
    if (context.known_machines) {
      for (const std::string& m : g.machines) {
        if (context.known_machines->count(m)) continue;
        std::string msg =
            "group '" + g.name + "': machine " + m + " is not protected by this vault";
        std::string s = Suggest(m, machines);
        if (!s.empty()) msg += " (did you mean '" + s + "'?)";
        issues.push_back({g.line, 0, msg});
      }
    }
    if (context.network_steps) {
      for (const auto* side : {&g.before, &g.after}) {
        for (const Action& a : *side) {
          if (a.kind != ActionKind::kNetwork || context.network_steps->count(a.network.step))
            continue;
          std::string msg =
              "action '" + a.name + "': no network step named '" + a.network.step + "'";
          std::string s = Suggest(a.network.step, steps);
          if (!s.empty()) msg += " (did you mean '" + s + "'?)";
          issues.push_back({a.line, 0, msg});
        }
      }
    }
  }
  return issues;
}

namespace {
Json ActionToJson(const Action& a) {
  Json j = {{"name", a.name},
            {"kind", ActionKindName(a.kind)},
            {"on_failure", a.on_failure.ToString()},
            {"line", a.line}};
  Json ops = Json::array();
  for (Operation op : a.operations) ops.push_back(OperationName(op));
  j["operations"] = ops;
  switch (a.kind) {
    case ActionKind::kScript:
      j["script"] = {{"path", a.script.path},
                     {"args", a.script.args},
                     {"env", a.script.env},
                     {"timeout_s", a.script.timeout_seconds},
                     {"idempotent", a.script.idempotent}};
      break;
    case ActionKind::kManual:
      j["manual"] = {{"message", a.manual.message}, {"timeout_s", a.manual.timeout_seconds}};
      break;
    case ActionKind::kNetwork:
      j["network"] = {{"step", a.network.step}, {"args", a.network.args}};
      break;
  }
  return j;
}

std::string Expand(const std::string& pattern, Operation op) {
  std::string out = pattern;
  size_t pos = out.find("{op}");
  if (pos != std::string::npos) out.replace(pos, 4, OperationName(op));
  return out;
}
}  // namespace

Json PlanToJson(const Plan& plan) {
  Json groups = Json::array();
  for (const PlanGroup& g : plan.groups) {
    Json before = Json::array(), after = Json::array();
    for (const Action& a : g.before) before.push_back(ActionToJson(a));
    for (const Action& a : g.after) after.push_back(ActionToJson(a));
    groups.push_back({{"name", g.name},
                      {"machines", g.machines},
                      {"before", before},
                      {"after", after},
                      {"line", g.line}});
  }
  return {{"name", plan.name}, {"description", plan.description}, {"groups", groups}};
}

Result<JobSpec> BuildPlanJob(const Plan& plan, Operation op, const PlanJobOptions& options) {
  JobSpec job;
  job.kind = "plan-" + std::string(OperationName(op));
  job.target = plan.name;
  job.rollback_on_failure = false;
  job.params = {{"plan", plan.name}, {"operation", OperationName(op)}, {"point", options.point}};
  std::vector<std::string> all = plan.Machines();
  Json base = {{"plan", plan.name}, {"operation", OperationName(op)}, {"point", options.point}};
  if (op != Operation::kDrill && !all.empty()) {
    Json a = base;
    a["machines"] = all;
    job.steps.push_back({Expand(options.shutdown_step, op),
                         "shut down the source machines (" + std::to_string(all.size()) + ")", a});
  }
  if (!all.empty()) {
    Json a = base;
    a["machines"] = all;
    job.steps.push_back({Expand(options.prepare_step, op),
                         "prepare the disks of " + std::to_string(all.size()) + " machines", a});
  }
  auto add_actions = [&](const PlanGroup& g, const std::vector<Action>& actions, const char* side) {
    for (const Action& a : actions) {
      if (!a.RunsFor(op)) continue;
      Json args = base;
      args["group"] = g.name;
      args["machines"] = g.machines;
      args["side"] = side;
      args["action"] = ActionToJson(a);
      std::string title = std::string(ActionKindName(a.kind)) + " '" + a.name + "' " + side +
                          " group '" + g.name + "'";
      job.steps.push_back({"plan." + std::string(ActionKindName(a.kind)), title, args});
    }
  };
  for (const PlanGroup& g : plan.groups) {
    add_actions(g, g.before, "before");
    if (!g.machines.empty()) {
      Json a = base;
      a["group"] = g.name;
      a["machines"] = g.machines;
      job.steps.push_back(
          {Expand(options.start_group_step, op),
           "start group '" + g.name + "' (" + std::to_string(g.machines.size()) + " machines)", a});
    }
    add_actions(g, g.after, "after");
  }
  if (job.steps.empty())
    return Status::InvalidArgument("plan " + plan.name + " has nothing to do for a " +
                                   std::string(OperationName(op)));
  if (job.steps.size() > static_cast<size_t>(kMaxStepsPerJob))
    return Status::InvalidArgument("plan " + plan.name + " makes too many steps");
  return job;
}

Result<Plan> SavePlan(Catalog* catalog, std::string_view yaml, const std::string& source,
                      const PlanContext& context) {
  LL_ASSIGN_OR_RETURN(Plan plan, ParsePlan(yaml, source));
  std::vector<PlanIssue> issues = CheckPlanReferences(plan, context);
  if (!issues.empty()) {
    PlanParseResult r;
    r.issues = std::move(issues);
    return Status::InvalidArgument(r.IssuesText(source));
  }
  PlanRecord record;
  record.name = plan.name;
  record.yaml = std::string(yaml);
  record.parsed_json = PlanToJson(plan).dump();
  LL_RETURN_IF_ERROR(catalog->PutPlan(record));
  return plan;
}

Result<Plan> LoadPlan(Catalog* catalog, const std::string& name) {
  LL_ASSIGN_OR_RETURN(PlanRecord record, catalog->GetPlan(name));
  auto plan = ParsePlan(record.yaml, "plan " + name);
  if (!plan.ok()) {
    return Status::Corruption("stored plan " + name +
                              " no longer parses: " + plan.status().message());
  }
  return plan;
}

}  // namespace lifeline::control
