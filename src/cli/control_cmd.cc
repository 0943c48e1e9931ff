// `lifeline job list|show|log|cancel` and `lifeline plan validate|continue`: control-plane
// commands that work directly on a catalog file (--catalog, default $LIFELINE_HOME/catalog.db).
// Single-threaded (a CLI process); the vault may hold the same catalog open meanwhile.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "control/catalog.h"
#include "control/plan.h"

namespace lifeline::cli {
namespace {

using control::Catalog;
using control::Job;
using control::JobState;
using control::StepState;
using Json = nlohmann::json;

struct ControlOptions {
  std::string catalog;
  std::string state, kind, target;
  int limit = 50;
  int64_t job_id = 0;
  bool follow = false;
  int step = -1;
  std::string file;
};

std::string DefaultCatalogPath() {
  const char* home = std::getenv("LIFELINE_HOME");
  return std::string(home && *home ? home : "/var/lib/lifeline") + "/catalog.db";
}

Result<std::unique_ptr<Catalog>> OpenCatalog(const ControlOptions& o) {
  std::string path = o.catalog.empty() ? DefaultCatalogPath() : o.catalog;
  // Reading commands must not create an empty catalog by mistake.
  if (!std::filesystem::exists(path)) {
    return Status::NotFound("no catalog at " + path +
                            " (pass --catalog PATH or set LIFELINE_HOME)");
  }
  return Catalog::Open(path);
}

std::string TimeText(int64_t unix_nanos) {
  if (unix_nanos == 0) return "-";
  time_t t = static_cast<time_t>(unix_nanos / 1'000'000'000);
  char buf[32];
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json StepJson(const control::JobStep& s) {
  return {{"index", s.index},
          {"name", s.name},
          {"title", s.title},
          {"state", control::StepStateName(s.state)},
          {"progress_percent", s.progress_percent},
          {"error", s.error},
          {"attempts", s.attempts},
          {"started", TimeText(s.started_unix_nanos)},
          {"finished", TimeText(s.finished_unix_nanos)}};
}

Json JobJson(const Job& j, bool with_steps) {
  Json out = {{"id", j.id},
              {"kind", j.kind},
              {"target", j.target},
              {"state", control::JobStateName(j.state)},
              {"progress_percent", j.ProgressPercent()},
              {"cancel_requested", j.cancel_requested},
              {"error", j.error},
              {"created", TimeText(j.created_unix_nanos)},
              {"started", TimeText(j.started_unix_nanos)},
              {"finished", TimeText(j.finished_unix_nanos)}};
  if (with_steps) {
    Json steps = Json::array();
    for (const auto& s : j.steps) steps.push_back(StepJson(s));
    out["steps"] = steps;
    Json params = Json::parse(j.params_json, nullptr, false);
    out["params"] = params.is_discarded() ? Json::object() : params;
  }
  return out;
}

std::string Bar(int percent, int width = 30) {
  int filled = percent * width / 100;
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(width - filled), '-') + "] " + std::to_string(percent) +
         "%";
}

const control::JobStep* CurrentStep(const Job& j) {
  for (const auto& s : j.steps) {
    if (s.state == StepState::kRunning) return &s;
  }
  for (const auto& s : j.steps) {
    if (s.state == StepState::kPending) return &s;
  }
  return nullptr;
}

void PrintJobHuman(const Job& j) {
  std::cerr << "job " << j.id << ": " << j.kind << " " << j.target << "  "
            << control::JobStateName(j.state)
            << (j.cancel_requested && !control::IsFinal(j.state) ? " (cancel requested)" : "")
            << "\n";
  std::cerr << "  " << Bar(j.ProgressPercent()) << "  created " << TimeText(j.created_unix_nanos)
            << "\n";
  if (!j.error.empty()) std::cerr << "  error: " << j.error << "\n";
  for (const auto& s : j.steps) {
    std::cerr << "  " << (s.index + 1) << ". " << control::StepStateName(s.state);
    if (s.state == StepState::kRunning) std::cerr << " " << s.progress_percent << "%";
    std::cerr << "  " << s.title;
    if (s.attempts > 1) std::cerr << "  (attempt " << s.attempts << ")";
    if (!s.error.empty()) std::cerr << "  - " << s.error;
    std::cerr << "\n";
  }
}

int FinalExitCode(JobState s) {
  return s == JobState::kDone ? 0 : (s == JobState::kCancelled ? 130 : 1);
}

Status JobList(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  control::JobFilter f;
  if (!o.state.empty()) {
    LL_ASSIGN_OR_RETURN(JobState s, control::ParseJobState(o.state));
    f.state = s;
  }
  f.kind = o.kind;
  f.target = o.target;
  f.limit = o.limit;
  LL_ASSIGN_OR_RETURN(std::vector<Job> jobs, catalog->ListJobs(f));
  if (Globals().json) {
    Json out = Json::array();
    for (const Job& j : jobs) out.push_back(JobJson(j, false));
    std::cout << Json{{"jobs", out}}.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return Status::Ok();
  }
  std::cerr << "ID     KIND            TARGET          STATE        PROGRESS  CREATED\n";
  for (const Job& j : jobs) {
    char line[256];
    snprintf(line, sizeof line, "%-6lld %-15s %-15s %-12s %7d%%  %s\n",
             static_cast<long long>(j.id), j.kind.substr(0, 15).c_str(),
             j.target.substr(0, 15).c_str(), std::string(control::JobStateName(j.state)).c_str(),
             j.ProgressPercent(), TimeText(j.created_unix_nanos).c_str());
    std::cerr << line;
  }
  if (jobs.empty()) std::cerr << "(no jobs)\n";
  return Status::Ok();
}

Status JobShow(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_ASSIGN_OR_RETURN(Job job, catalog->GetJob(o.job_id));
  if (o.follow) {
    bool tty = isatty(2);
    while (!control::IsFinal(job.state)) {
      if (!Globals().json) {
        const control::JobStep* s = CurrentStep(job);
        std::string line = Bar(job.ProgressPercent()) + "  " + (s ? s->title : std::string());
        if (line.size() > 100) line.resize(100);
        std::cerr << (tty ? "\r\033[K" : "") << line << (tty ? "" : "\n") << std::flush;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 2000));
      LL_ASSIGN_OR_RETURN(job, catalog->GetJob(o.job_id));
    }
    if (tty && !Globals().json) std::cerr << "\r\033[K";
  }
  if (Globals().json) {
    std::cout << JobJson(job, true).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    PrintJobHuman(job);
  }
  if (o.follow) SetExitCode(FinalExitCode(job.state));
  return Status::Ok();
}

Status JobLog(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_ASSIGN_OR_RETURN(Job job, catalog->GetJob(o.job_id));
  int64_t after = 0;
  Json all = Json::array();
  while (true) {
    LL_ASSIGN_OR_RETURN(std::vector<control::JobLogLine> lines,
                        catalog->GetLog(o.job_id, after, 1000));
    for (const auto& l : lines) {
      after = l.id;
      if (Globals().json) {
        all.push_back({{"id", l.id},
                       {"time", TimeText(l.time_unix_nanos)},
                       {"step", l.step_index + 1},
                       {"level", l.level},
                       {"text", l.text}});
      } else {
        std::cerr << TimeText(l.time_unix_nanos) << " "
                  << (l.step_index >= 0 ? "step " + std::to_string(l.step_index + 1) : "job") << " "
                  << l.level << ": " << l.text << "\n";
      }
    }
    if (!lines.empty()) continue;
    if (!o.follow || control::IsFinal(job.state)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    LL_ASSIGN_OR_RETURN(job, catalog->GetJob(o.job_id));
  }
  if (Globals().json)
    std::cout << Json{{"job", o.job_id}, {"lines", all}}.dump(2, ' ', false,
                                                              Json::error_handler_t::replace)
              << "\n";
  return Status::Ok();
}

Status JobCancel(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_RETURN_IF_ERROR(catalog->RequestCancel(o.job_id));
  (void)catalog->Audit("cli", "job.cancel", "job/" + std::to_string(o.job_id), "cancel requested");
  if (Globals().json) {
    std::cout << Json{{"job", o.job_id}, {"cancel_requested", true}}.dump(
                     2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    std::cerr << "job " << o.job_id
              << ": cancel requested; the vault rolls back its completed steps\n";
  }
  return Status::Ok();
}

Status PlanValidate(const ControlOptions& o) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + o.file);
  std::string text;
  {
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  control::PlanParseResult r = control::ParsePlanYaml(text, o.file);
  std::vector<control::PlanIssue> issues = r.issues;
  if (r.plan && !o.catalog.empty()) {
    // With a catalog, also check that the machines exist there.
    LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
    LL_ASSIGN_OR_RETURN(std::vector<control::Machine> machines, catalog->ListMachines());
    std::set<std::string> names;
    for (const auto& m : machines) names.insert(m.name);
    control::PlanContext ctx;
    ctx.known_machines = &names;
    for (auto& i : control::CheckPlanReferences(*r.plan, ctx)) issues.push_back(i);
  }
  if (Globals().json) {
    Json list = Json::array();
    for (const auto& i : issues)
      list.push_back({{"line", i.line}, {"column", i.column}, {"message", i.message}});
    Json out = {{"file", o.file}, {"valid", issues.empty()}, {"issues", list}};
    if (r.plan) out["plan"] = control::PlanToJson(*r.plan);
    std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    control::PlanParseResult shown;
    shown.issues = issues;
    if (!issues.empty()) std::cerr << shown.IssuesText(o.file) << "\n";
  }
  if (!issues.empty()) {
    SetExitCode(1);
    if (!Globals().json) std::cerr << o.file << ": " << issues.size() << " issue(s)\n";
    return Status::Ok();
  }
  if (!Globals().json) {
    size_t actions = 0;
    for (const auto& g : r.plan->groups) actions += g.before.size() + g.after.size();
    std::cerr << o.file << ": plan " << r.plan->name << " is valid: " << r.plan->groups.size()
              << " groups, " << r.plan->Machines().size() << " machines, " << actions
              << " actions\n";
  }
  return Status::Ok();
}

Status PlanImport(const ControlOptions& o) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + o.file);
  std::ostringstream ss;
  ss << in.rdbuf();
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_ASSIGN_OR_RETURN(std::vector<control::Machine> machines, catalog->ListMachines());
  std::set<std::string> names;
  for (const auto& m : machines) names.insert(m.name);
  control::PlanContext ctx;
  ctx.known_machines = &names;
  auto plan = control::SavePlan(catalog.get(), ss.str(), o.file, ctx);
  if (!plan.ok()) {
    if (plan.status().code() != Code::kInvalidArgument) return plan.status();
    // Issues in the plan are a failed check (exit 1), not a usage error.
    Fail(plan.status());
    SetExitCode(1);
    return Status::Ok();
  }
  (void)catalog->Audit("cli", "plan.import", "plan/" + plan->name, o.file);
  if (Globals().json) {
    std::cout << Json{{"plan", plan->name}, {"imported", true}}.dump(2) << "\n";
  } else {
    std::cerr << "plan " << plan->name << " imported from " << o.file << "\n";
  }
  return Status::Ok();
}

Status PlanList(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_ASSIGN_OR_RETURN(std::vector<control::PlanRecord> plans, catalog->ListPlans());
  Json out = Json::array();
  for (const auto& p : plans) {
    Json parsed = Json::parse(p.parsed_json, nullptr, false);
    size_t groups = parsed.is_object() && parsed.contains("groups") ? parsed["groups"].size() : 0;
    if (Globals().json) {
      out.push_back({{"name", p.name},
                     {"groups", groups},
                     {"updated", TimeText(p.updated_unix_nanos)},
                     {"plan", parsed.is_discarded() ? Json::object() : parsed}});
    } else {
      std::cerr << p.name << "  " << groups << " groups  updated " << TimeText(p.updated_unix_nanos)
                << "\n";
    }
  }
  if (Globals().json)
    std::cout << Json{{"plans", out}}.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  if (!Globals().json && plans.empty()) std::cerr << "(no plans)\n";
  return Status::Ok();
}

Status PlanContinue(const ControlOptions& o) {
  LL_ASSIGN_OR_RETURN(auto catalog, OpenCatalog(o));
  LL_ASSIGN_OR_RETURN(Job job, catalog->GetJob(o.job_id));
  if (control::IsFinal(job.state)) {
    return Status::FailedPrecondition("job " + std::to_string(o.job_id) + " already " +
                                      std::string(control::JobStateName(job.state)));
  }
  int step = o.step >= 1 ? o.step - 1 : -1;
  if (step < 0) {
    for (const auto& s : job.steps) {
      if (s.name == "plan.manual" && s.state == StepState::kRunning) step = s.index;
    }
  }
  if (step < 0 || step >= static_cast<int>(job.steps.size()) ||
      job.steps[static_cast<size_t>(step)].name != "plan.manual") {
    return Status::FailedPrecondition("job " + std::to_string(o.job_id) +
                                      " is not waiting at a manual step (see `lifeline job show " +
                                      std::to_string(o.job_id) + "`)");
  }
  LL_RETURN_IF_ERROR(catalog->PostSignal(o.job_id, step, "continue"));
  (void)catalog->Audit("cli", "plan.continue", "job/" + std::to_string(o.job_id),
                       "step " + std::to_string(step + 1));
  if (Globals().json) {
    std::cout << Json{{"job", o.job_id}, {"step", step + 1}, {"continued", true}}.dump(
                     2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    std::cerr << "job " << o.job_id << ": step " << (step + 1) << " continued\n";
  }
  return Status::Ok();
}

void AddCommon(CLI::App* cmd, ControlOptions* o) {
  cmd->add_option("--catalog", o->catalog, "catalog file (default $LIFELINE_HOME/catalog.db)");
  cmd->add_flag("--json", Globals().json, "JSON on stdout");
}

}  // namespace

void RegisterControlCommands(CLI::App& app) {
  static ControlOptions o;
  CLI::App* job = app.add_subcommand("job", "jobs: list, show, log, cancel");
  job->require_subcommand(1);
  CLI::App* list = job->add_subcommand("list", "list jobs, newest first");
  AddCommon(list, &o);
  list->add_option("--state", o.state, "pending, running, done, failed, cancelled, rolled-back");
  list->add_option("--kind", o.kind, "job kind, e.g. drill, failover, plan-failover");
  list->add_option("--target", o.target, "machine or plan name");
  list->add_option("--limit", o.limit, "at most this many jobs")->check(CLI::Range(1, 10000));
  list->callback([] { RunCommand([] { return JobList(o); }); });

  CLI::App* show = job->add_subcommand("show", "show a job and its steps");
  AddCommon(show, &o);
  show->add_option("ID", o.job_id, "job id")->required();
  show->add_flag("--follow,-f", o.follow,
                 "draw a progress bar until the job ends; exit code from its outcome");
  show->callback([] { RunCommand([] { return JobShow(o); }); });

  CLI::App* log = job->add_subcommand("log", "print a job's log");
  AddCommon(log, &o);
  log->add_option("ID", o.job_id, "job id")->required();
  log->add_flag("--follow,-f", o.follow, "keep printing until the job ends");
  log->callback([] { RunCommand([] { return JobLog(o); }); });

  CLI::App* cancel = job->add_subcommand("cancel", "ask a job to stop and roll back");
  AddCommon(cancel, &o);
  cancel->add_option("ID", o.job_id, "job id")->required();
  cancel->callback([] { RunCommand([] { return JobCancel(o); }); });

  CLI::App* plan = app.add_subcommand("plan", "recovery plans");
  plan->require_subcommand(1);
  CLI::App* validate = plan->add_subcommand("validate", "check a recovery plan file");
  AddCommon(validate, &o);
  validate->add_option("FILE", o.file, "plan YAML")->required();
  validate->callback([] { RunCommand([] { return PlanValidate(o); }); });

  CLI::App* import = plan->add_subcommand("import", "check a plan and store it in the catalog");
  AddCommon(import, &o);
  import->add_option("FILE", o.file, "plan YAML")->required();
  import->callback([] { RunCommand([] { return PlanImport(o);
});
}  // namespace lifeline::cli
);

CLI::App* plans = plan->add_subcommand("list", "plans stored in the catalog");
AddCommon(plans, &o);
plans->callback([] { RunCommand([] { return PlanList(o); }); });

CLI::App* cont = plan->add_subcommand("continue", "let a plan job waiting at a manual step go on");
AddCommon(cont, &o);
cont->add_option("JOB", o.job_id, "job id")->required();
cont->add_option("--step", o.step, "step number (default: the manual step now waiting)");
cont->callback([] { RunCommand([] { return PlanContinue(o); }); });
}

}  // namespace lifeline::cli
