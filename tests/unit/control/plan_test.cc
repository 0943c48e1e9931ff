#include "control/plan.h"

#include "test_util.h"

namespace lifeline::control {
namespace {

constexpr const char* kGood = R"(version: 1
name: web-app
description: three tiers
groups:
  - name: data
    machines: [db1, db2]
    before:
      - name: stop-replica
        script:
          path: /opt/dr/stop-replica.sh
          args: [--fast]
          env: {DB_ROLE: primary}
          timeout_s: 120
        on_failure: retry(2)
        operations: [failover, failback]
  - name: app
    machines: [app1]
    after:
      - name: check-app
        manual:
          message: log in and check the app
          timeout_s: 3600
      - name: switch-route
        network:
          step: connect-circuit
          args: {circuit: er-hk}
        on_failure: continue
)";

std::string Issues(std::string_view yaml) {
  PlanParseResult r = ParsePlanYaml(yaml, "plan.yaml");
  EXPECT_FALSE(r.plan.has_value());
  return r.IssuesText("plan.yaml");
}

TEST(PlanParse, FullPlan) {
  auto plan = ParsePlan(kGood, "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->name, "web-app");
  ASSERT_EQ(plan->groups.size(), 2u);
  const PlanGroup& data = plan->groups[0];
  EXPECT_EQ(data.machines, (std::vector<std::string>{"db1", "db2"}));
  ASSERT_EQ(data.before.size(), 1u);
  const Action& a = data.before[0];
  EXPECT_EQ(a.kind, ActionKind::kScript);
  EXPECT_EQ(a.script.path, "/opt/dr/stop-replica.sh");
  EXPECT_EQ(a.script.timeout_seconds, 120);
  EXPECT_EQ(a.script.env.at("DB_ROLE"), "primary");
  EXPECT_EQ(a.on_failure.policy, FailurePolicy::kRetry);
  EXPECT_EQ(a.on_failure.retries, 2);
  EXPECT_FALSE(a.RunsFor(Operation::kDrill));
  EXPECT_TRUE(a.RunsFor(Operation::kFailover));
  EXPECT_EQ(a.line, 8);
  const PlanGroup& app = plan->groups[1];
  ASSERT_EQ(app.after.size(), 2u);
  EXPECT_EQ(app.after[0].kind, ActionKind::kManual);
  EXPECT_EQ(app.after[0].manual.timeout_seconds, 3600);
  EXPECT_EQ(app.after[1].network.args.at("circuit"), "er-hk");
  EXPECT_EQ(app.after[1].on_failure.policy, FailurePolicy::kContinue);
  EXPECT_EQ(plan->Machines().size(), 3u);
  nlohmann::json j = PlanToJson(*plan);
  EXPECT_EQ(j["groups"][1]["after"][1]["network"]["step"], "connect-circuit");
}

TEST(PlanParse, UnknownKeyWithLineAndSuggestion) {
  std::string yaml = kGood;
  yaml.replace(yaml.find("timeout_s: 120"), 9, "timout_s");
  std::string issues = Issues(yaml);
  EXPECT_NE(issues.find("plan.yaml:13:11: unknown key 'timout_s'"), std::string::npos) << issues;
  EXPECT_NE(issues.find("did you mean 'timeout_s'?"), std::string::npos) << issues;
}

TEST(PlanParse, TopLevelTypoSuggests) {
  std::string issues = Issues("name: x\ngrups:\n  - machines: [a]\n");
  EXPECT_NE(issues.find("plan.yaml:2:1: unknown key 'grups'"), std::string::npos) << issues;
  EXPECT_NE(issues.find("did you mean 'groups'?"), std::string::npos) << issues;
  EXPECT_NE(issues.find("missing 'groups'"), std::string::npos) << issues;
}

TEST(PlanParse, WrongTypesNameTheLine) {
  std::string issues = Issues(
      "name: x\ngroups:\n  - machines: a\n  - machines: [b]\n    before:\n      - script: {path: "
      "/x, timeout_s: ten}\n");
  EXPECT_NE(issues.find("plan.yaml:3:15: 'machines' in group 1 must be a list, got a scalar"),
            std::string::npos)
      << issues;
  EXPECT_NE(issues.find("plan.yaml:6:39: 'timeout_s'"), std::string::npos) << issues;
  EXPECT_NE(issues.find("must be an integer, got 'ten'"), std::string::npos) << issues;
}

TEST(PlanParse, GroupLimitIsSiteRecoverys) {
  std::string yaml = "name: big\ngroups:\n";
  for (int i = 0; i < 8; ++i) yaml += "  - machines: [m" + std::to_string(i) + "]\n";
  std::string issues = Issues(yaml);
  EXPECT_NE(issues.find("8 groups: a plan has at most 7 groups"), std::string::npos) << issues;
  yaml = "name: ok\ngroups:\n";
  for (int i = 0; i < 7; ++i) yaml += "  - machines: [m" + std::to_string(i) + "]\n";
  EXPECT_TRUE(ParsePlan(yaml, "p").ok());
}

TEST(PlanParse, MachineLimit) {
  std::string yaml = "name: big\ngroups:\n  - machines: [";
  for (int i = 0; i < 101; ++i) yaml += (i ? ", m" : "m") + std::to_string(i);
  yaml += "]\n";
  std::string issues = Issues(yaml);
  EXPECT_NE(issues.find("101 machines: a plan holds at most 100 machines"), std::string::npos)
      << issues;
}

TEST(PlanParse, MachineInTwoGroups) {
  std::string issues =
      Issues("name: x\ngroups:\n  - machines: [a, b]\n  - name: second\n    machines: [b]\n");
  EXPECT_NE(issues.find("machine b is in group 1 and in group 'second'"), std::string::npos)
      << issues;
}

TEST(PlanParse, ActionShapes) {
  std::string base = "name: x\ngroups:\n  - machines: [a]\n    before:\n      - ";
  EXPECT_NE(Issues(base + "{script: {path: /a}, manual: {message: m}}\n")
                .find("exactly one of script, manual or network, got 2"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{on_failure: abort}\n").find("got 0"), std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: run.sh}}\n").find("must be absolute"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: /a, env: {LIFELINE_PLAN: x}}}\n").find("reserved"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: /a, env: {lower: x}}}\n").find("upper case"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: /a}, on_failure: retry(11)}\n")
                .find("retry count must be 1..10"),
            std::string::npos);
  EXPECT_NE(
      Issues(base + "{script: {path: /a}, on_failure: contine}\n").find("did you mean 'continue'"),
      std::string::npos);
  EXPECT_NE(
      Issues(base + "{script: {path: /a}, operations: [dril]}\n").find("did you mean 'drill'"),
      std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: /a, timeout_s: 0}}\n").find("must be 1..86400"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{manual: {}}\n").find("missing 'message'"), std::string::npos);
  EXPECT_NE(Issues(base + "{network: {step: 'bad name'}}\n").find("not a valid name"),
            std::string::npos);
  EXPECT_NE(Issues(base + "{script: {path: /a, idempotent: maybe}}\n").find("true or false"),
            std::string::npos);
}

TEST(PlanParse, SyntaxAndDocumentErrors) {
  EXPECT_NE(Issues("name: x\ngroups: [\n").find("plan.yaml:"), std::string::npos);
  EXPECT_NE(Issues("name: x\ngroups: [\n").find("YAML syntax"), std::string::npos);
  EXPECT_NE(Issues("").find("empty"), std::string::npos);
  EXPECT_NE(Issues("- a\n- b\n").find("the plan must be a map"), std::string::npos);
  EXPECT_NE(Issues("name: x\nname: y\ngroups: [{machines: [a]}]\n").find("duplicate key 'name'"),
            std::string::npos);
  EXPECT_NE(
      Issues("version: 2\nname: x\ngroups: [{machines: [a]}]\n").find("version 2 is not supported"),
      std::string::npos);
  EXPECT_NE(Issues("name: x\ngroups: []\n").find("non-empty list"), std::string::npos);
  EXPECT_NE(Issues("name: x\ngroups: [{name: g}]\n").find("no machines and no actions"),
            std::string::npos);
  EXPECT_NE(Issues(std::string(kMaxPlanYamlBytes + 1, '#')).find("1 MiB"), std::string::npos);
  // Deep nesting is a clean error, not a crash.
  EXPECT_FALSE(
      ParsePlanYaml(std::string(5000, '[') + std::string(5000, ']'), "p").plan.has_value());
}

TEST(PlanParse, IssuesAreBounded) {
  std::string yaml = "name: x\ngroups:\n  - machines: [a]\n";
  for (int i = 0; i < 200; ++i) yaml += "    k" + std::to_string(i) + ": 1\n";
  PlanParseResult r = ParsePlanYaml(yaml, "p");
  EXPECT_LE(r.issues.size(), static_cast<size_t>(kMaxPlanIssues + 1));
}

TEST(PlanReferences, UnknownMachinesAndNetworkSteps) {
  auto plan = ParsePlan(kGood, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  std::set<std::string> machines = {"db1", "db2", "app-1"};
  std::set<std::string> steps = {"connect-circuits"};
  auto issues = CheckPlanReferences(*plan, {&machines, &steps});
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_NE(
      issues[0].message.find("machine app1 is not protected by this vault (did you mean 'app-1'?)"),
      std::string::npos)
      << issues[0].message;
  EXPECT_NE(issues[1].message.find("did you mean 'connect-circuits'"), std::string::npos)
      << issues[1].message;
}

TEST(PlanJob, FailoverOrder) {
  auto plan = ParsePlan(kGood, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  PlanJobOptions o;
  o.point = "latest-processed";
  ASSERT_OK_AND_ASSIGN(JobSpec job, BuildPlanJob(*plan, Operation::kFailover, o));
  std::vector<std::string> names;
  for (const StepSpec& s : job.steps) names.push_back(s.name);
  std::vector<std::string> expect = {"failover.shutdown",    "failover.prepare",     "plan.script",
                                     "failover.start-group", "failover.start-group", "plan.manual",
                                     "plan.network"};
  EXPECT_EQ(names, expect);
  EXPECT_EQ(job.kind, "plan-failover");
  EXPECT_FALSE(job.rollback_on_failure);
  EXPECT_EQ(job.steps[3].args["machines"], nlohmann::json({"db1", "db2"}));
  EXPECT_EQ(job.steps[3].args["point"], "latest-processed");
}

TEST(PlanJob, DrillSkipsShutdownAndFailoverOnlyActions) {
  auto plan = ParsePlan(kGood, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  ASSERT_OK_AND_ASSIGN(JobSpec job, BuildPlanJob(*plan, Operation::kDrill));
  std::vector<std::string> names;
  for (const StepSpec& s : job.steps) names.push_back(s.name);
  std::vector<std::string> expect = {"drill.prepare", "drill.start-group", "drill.start-group",
                                     "plan.manual", "plan.network"};
  EXPECT_EQ(names, expect);
}

TEST(PlanSuggest, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(Suggest("machnes", {"machines", "name"}), "machines");
  EXPECT_EQ(Suggest("zzzzzz", {"machines", "name"}), "");
}

}  // namespace
}  // namespace lifeline::control

namespace lifeline::control {
namespace {

TEST(PlanParse, InvalidUtf8IsAnIssueNotAThrow) {
  std::string yaml =
      "name: x\ngroups:\n  - machines: [a]\n    after:\n      - manual: {message: \"caf\xe9\"}\n";
  PlanParseResult r = ParsePlanYaml(yaml, "p.yaml");
  ASSERT_FALSE(r.plan.has_value());
  EXPECT_NE(r.IssuesText("p.yaml").find("p.yaml:5:"), std::string::npos) << r.IssuesText("p.yaml");
  EXPECT_NE(r.IssuesText("p.yaml").find("not valid UTF-8"), std::string::npos);
  // Valid multi-byte text is fine and survives the JSON form.
  std::string ok =
      "name: x\ngroups:\n  - machines: [a]\n    after:\n      - manual: {message: \"caf\xc3\xa9 "
      "\xe2\x9c\x93\"}\n";
  auto plan = ParsePlan(ok, "p.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_NE(PlanToJson(*plan).dump().find("caf\xc3\xa9"), std::string::npos);
  // Overlong encodings and surrogates are refused.
  EXPECT_FALSE(ParsePlanYaml("name: \"\xc0\xaf\"\n", "p").plan.has_value());
  EXPECT_FALSE(ParsePlanYaml("name: \"\xed\xa0\x80\"\n", "p").plan.has_value());
}

}  // namespace
}  // namespace lifeline::control
