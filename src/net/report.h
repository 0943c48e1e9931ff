// Rendering of check findings, routes, simulation results and plans as text (for people)
// and JSON (for tools). One renderer serves the CLI and the golden tests. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "net/check.h"
#include "net/plan.h"
#include "net/routes.h"
#include "net/simulate.h"

namespace lifeline::net {

// "file:line:col: error [rule.id] element: message\n    fix: ..."
void WriteFindingsText(std::ostream& os, const std::string& file, const std::vector<Finding>& fs);
nlohmann::json FindingsJson(const std::string& file, const std::vector<Finding>& fs);

void WriteRulesText(std::ostream& os);
nlohmann::json RulesJson();

// Text and JSON of one route table. The Append forms add to `out` (callers that write
// millions of routes batch them); the Write forms are the same bytes on a stream.
void AppendVnetRoutesText(std::string* out, const VnetRouteTable& t);
void AppendRouterRoutesText(std::string* out, const RouterRouteTable& t);
void AppendVnetRoutesJson(std::string* out, const VnetRouteTable& t);
void AppendRouterRoutesJson(std::string* out, const RouterRouteTable& t);
void WriteVnetRoutesText(std::ostream& os, const VnetRouteTable& t);
void WriteRouterRoutesText(std::ostream& os, const RouterRouteTable& t);
// JSON of one table, written directly to the stream (no document tree): `net routes --json`
// streams millions of routes in constant memory. Same fields as the text table.
void WriteVnetRoutesJson(std::ostream& os, const VnetRouteTable& t);
void WriteRouterRoutesJson(std::ostream& os, const RouterRouteTable& t);

void WriteSimulationText(std::ostream& os, const SimulationResult& r);
nlohmann::json SimulationJson(const SimulationResult& r);
// Ranked single failures: one line each.
void WriteRankingText(std::ostream& os, const std::vector<SimulationResult>& rs);

void WritePlanText(std::ostream& os, const RecoveryPlan& p);
nlohmann::json PlanJson(const RecoveryPlan& p);

}  // namespace lifeline::net
