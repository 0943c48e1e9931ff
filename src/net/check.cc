// Runs the rule set and orders the findings for stable output.
#include "net/check.h"

#include <algorithm>

namespace lifeline::net {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kAdvice:
      return "advice";
  }
  return "error";
}

const Rule* FindRule(const std::string& id) {
  for (const auto& r : AllRules())
    if (id == r.id) return &r;
  return nullptr;
}

std::vector<Finding> RunChecks(const CheckContext& ctx) { return RunChecks(ctx, AllRules()); }

std::vector<Finding> RunChecks(const CheckContext& ctx, const std::vector<Rule>& rules) {
  std::vector<Finding> out;
  for (const auto& r : rules) {
    if (r.needs_old && !ctx.old_topo) continue;
    FindingSink sink(r.id, r.severity, &out);
    r.check(ctx, sink);
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.loc.line != b.loc.line) return a.loc.line < b.loc.line;
    if (a.loc.column != b.loc.column) return a.loc.column < b.loc.column;
    return std::string_view(a.rule_id) < std::string_view(b.rule_id);
  });
  return out;
}

}  // namespace lifeline::net
