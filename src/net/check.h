// `net check`: the rule set over a topology. Each rule is a small unit in checks/ with a
// stable id, a severity, its documentary source and one function. Rules are stateless and
// read-only over the model: running checks is thread-safe for concurrent readers.
#pragma once

#include <string>
#include <vector>

#include "net/index.h"
#include "net/model.h"

namespace lifeline::net {

enum class Severity { kError, kWarning, kAdvice };
const char* SeverityName(Severity s);  // error, warning, advice

struct Finding {
  std::string rule_id;
  Severity severity = Severity::kError;
  Loc loc;              // where the element is declared
  std::string element;  // "vnet hub", "circuit er-hk peering private", ...
  std::string message;  // what is wrong
  std::string fix;      // what to do
};

// What a rule sees: the topology, its index, and for change rules (`--against OLD`) the
// previous version (null otherwise).
struct CheckContext {
  const Topology& topo;
  const TopologyIndex& index;
  const Topology* old_topo = nullptr;
  const TopologyIndex* old_index = nullptr;
};

// Collects a rule's findings, stamping them with the rule's id and severity.
class FindingSink {
 public:
  FindingSink(const char* rule_id, Severity severity, std::vector<Finding>* out)
      : rule_id_(rule_id), severity_(severity), out_(out) {}
  void Add(const Loc& loc, std::string element, std::string message, std::string fix) {
    out_->push_back(
        Finding{rule_id_, severity_, loc, std::move(element), std::move(message), std::move(fix)});
  }

 private:
  const char* rule_id_;
  Severity severity_;
  std::vector<Finding>* out_;
};

struct Rule {
  const char* id;  // stable, e.g. "gwsubnet.size"
  Severity severity;
  const char* source;   // source ids of reference/expressroute-rules.md, e.g. "GW, ADDGW"
  const char* summary;  // one line: what the rule requires
  void (*check)(const CheckContext& ctx, FindingSink& out);
  bool needs_old = false;  // change rule: runs only with an older topology
};

// Every rule, in a stable order (areas as in NETWORK_MODEL.md §2).
const std::vector<Rule>& AllRules();
const Rule* FindRule(const std::string& id);

// Runs `rules` (all by default) and returns findings sorted by line, then rule id.
std::vector<Finding> RunChecks(const CheckContext& ctx);
std::vector<Finding> RunChecks(const CheckContext& ctx, const std::vector<Rule>& rules);

}  // namespace lifeline::net
