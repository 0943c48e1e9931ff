#include "control/jobs.h"

#include <chrono>

#include "common/log.h"

namespace lifeline::control {
namespace {

using Json = nlohmann::json;

bool DidWork(StepState s) {
  return s == StepState::kDone || s == StepState::kFailed || s == StepState::kRunning;
}

int LastTouched(const Job& job) {
  int last = -1;
  for (const JobStep& s : job.steps) {
    if (s.state != StepState::kPending && s.state != StepState::kSkipped) last = s.index;
  }
  return last;
}

std::string StepLabel(const JobStep& s) {
  return "step " + std::to_string(s.index + 1) + " (" + s.name + ")";
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- StepContext ----

void StepContext::Log(const std::string& text) {
  (void)catalog_->AppendLog(job_.id, step_index_, "info", text);
}
void StepContext::Warn(const std::string& text) {
  (void)catalog_->AppendLog(job_.id, step_index_, "warn", text);
}
void StepContext::Error(const std::string& text) {
  (void)catalog_->AppendLog(job_.id, step_index_, "error", text);
}
void StepContext::Progress(int percent) {
  (void)catalog_->SetStepProgress(job_.id, step_index_, percent);
}

bool StepContext::Stopping() const { return runner_->stopping(); }

bool StepContext::ShouldStop() {
  if (runner_->stopping()) return true;
  auto c = catalog_->CancelRequested(job_.id);
  return c.ok() && *c;
}

bool StepContext::SleepMs(int64_t ms) {
  int64_t deadline = SteadyMs() + ms;
  while (true) {
    if (ShouldStop()) return false;
    int64_t left = deadline - SteadyMs();
    if (left <= 0) return true;
    runner_->WaitWake(std::min<int64_t>(left, runner_->options_.poll_interval_ms));
  }
}

Result<bool> StepContext::WaitForSignal(const std::string& name, int64_t timeout_ms) {
  int64_t deadline = timeout_ms > 0 ? SteadyMs() + timeout_ms : INT64_MAX;
  while (true) {
    LL_ASSIGN_OR_RETURN(bool got, catalog_->TakeSignal(job_.id, step_index_, name));
    if (got) return true;
    if (runner_->stopping()) return Status::Busy("the job runner is stopping");
    LL_ASSIGN_OR_RETURN(bool cancelled, catalog_->CancelRequested(job_.id));
    if (cancelled)
      return Status::FailedPrecondition("job " + std::to_string(job_.id) + " was cancelled");
    int64_t left = deadline - SteadyMs();
    if (left <= 0) return false;
    runner_->WaitWake(std::min<int64_t>(left, runner_->options_.poll_interval_ms));
  }
}

// ---- StepRegistry ----

Status StepRegistry::Register(const std::string& name, StepFactory factory) {
  if (name.empty() || !factory)
    return Status::InvalidArgument("step registration needs a name and a factory");
  if (!factories_.emplace(name, std::move(factory)).second) {
    return Status::InvalidArgument("step " + name + " is already registered");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Step>> StepRegistry::Create(const std::string& name,
                                                   const Json& args) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) return Status::NotFound("no step named " + name + " is registered");
  return it->second(args);
}

std::vector<std::string> StepRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, f] : factories_) out.push_back(name);
  return out;
}

// ---- JobRunner ----

JobRunner::JobRunner(Catalog* catalog, const StepRegistry* registry, RunnerOptions options)
    : catalog_(catalog), registry_(registry), options_(std::move(options)) {
  if (options_.workers < 1) options_.workers = 1;
  if (options_.poll_interval_ms < 1) options_.poll_interval_ms = 1;
}

JobRunner::~JobRunner() { Stop(); }

bool JobRunner::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void JobRunner::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_generation_++;
  }
  cv_.notify_all();
}

void JobRunner::WaitWake(int64_t ms) {
  std::unique_lock lock(mu_);
  uint64_t gen = wake_generation_;
  cv_.wait_for(lock, std::chrono::milliseconds(ms),
               [&] { return stopping_ || wake_generation_ != gen; });
}

Status JobRunner::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return Status::FailedPrecondition("job runner already started");
    started_ = true;
  }
  LL_ASSIGN_OR_RETURN(std::vector<Job> unfinished, catalog_->ListUnfinishedJobs());
  {
    std::lock_guard lock(mu_);
    for (const Job& j : unfinished) {
      // Negative ids mark jobs found at start, which RunJob treats as recovering.
      queue_.push_back(-j.id);
      active_.insert(j.id);
    }
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }
  cv_.notify_all();
  return Status::Ok();
}

void JobRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void JobRunner::WorkerLoop() {
  while (true) {
    int64_t entry = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      entry = queue_.front();
      queue_.pop_front();
    }
    int64_t id = entry < 0 ? -entry : entry;
    RunJob(id, entry < 0);
    {
      std::lock_guard lock(mu_);
      active_.erase(id);
      wake_generation_++;
    }
    cv_.notify_all();
  }
}

Result<int64_t> JobRunner::Submit(const JobSpec& spec) {
  for (const StepSpec& s : spec.steps) {
    if (!registry_->Has(s.name)) {
      return Status::InvalidArgument("job " + spec.kind + ": no step named " + s.name +
                                     " is registered");
    }
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Busy("the job runner is stopping");
    if (queue_.size() >= options_.max_queued_jobs) {
      return Status::Busy("job queue full (" + std::to_string(options_.max_queued_jobs) +
                          " jobs waiting): try again when some finish");
    }
  }
  Job job;
  job.kind = spec.kind;
  job.target = spec.target;
  job.params_json = spec.params.dump(-1, ' ', false, Json::error_handler_t::replace);
  job.rollback_on_failure = spec.rollback_on_failure;
  std::vector<JobStep> steps;
  for (const StepSpec& s : spec.steps) {
    JobStep st;
    st.name = s.name;
    st.title = s.title.empty() ? s.name : s.title;
    st.args_json = s.args.dump(-1, ' ', false, Json::error_handler_t::replace);
    steps.push_back(std::move(st));
  }
  LL_ASSIGN_OR_RETURN(int64_t id, catalog_->CreateJob(job, steps));
  (void)catalog_->Audit(options_.actor, "job.submit", "job/" + std::to_string(id),
                        spec.kind + " " + spec.target);
  Enqueue(id);
  return id;
}

void JobRunner::Enqueue(int64_t job_id) {
  {
    std::lock_guard lock(mu_);
    if (!active_.insert(job_id).second) return;
    queue_.push_back(job_id);
  }
  cv_.notify_all();
}

Status JobRunner::Cancel(int64_t job_id) {
  LL_RETURN_IF_ERROR(catalog_->RequestCancel(job_id));
  (void)catalog_->Audit(options_.actor, "job.cancel", "job/" + std::to_string(job_id),
                        "cancel requested");
  Wake();
  return Status::Ok();
}

Result<Job> JobRunner::Wait(int64_t job_id, int64_t timeout_ms) {
  int64_t deadline = SteadyMs() + timeout_ms;
  while (true) {
    LL_ASSIGN_OR_RETURN(Job job, catalog_->GetJob(job_id));
    if (IsFinal(job.state)) return job;
    int64_t left = deadline - SteadyMs();
    if (left <= 0) {
      return Status::Busy("job " + std::to_string(job_id) + " still " +
                          std::string(JobStateName(job.state)));
    }
    WaitWake(std::min<int64_t>(left, options_.poll_interval_ms));
  }
}

Status JobRunner::MarkStep(JobStep& step, StepState state, const std::string& error) {
  step.state = state;
  if (!error.empty()) step.error = error;
  int64_t now = catalog_->clock()->NowUnixNanos();
  if (state == StepState::kRunning) {
    step.started_unix_nanos = now;
    step.finished_unix_nanos = 0;
    step.attempts++;
  } else {
    step.finished_unix_nanos = now;
  }
  if (state == StepState::kDone) step.progress_percent = 100;
  return catalog_->UpdateStep(step);
}

Status JobRunner::RollbackSteps(Job& job, int last) {
  Status first_failure;
  for (int i = last; i >= 0; --i) {
    JobStep& st = job.steps[static_cast<size_t>(i)];
    if (!DidWork(st.state)) continue;
    Json args = Json::parse(st.args_json, nullptr, false);
    auto step = registry_->Create(st.name, args.is_discarded() ? Json::object() : args);
    Status s = step.ok() ? Status::Ok() : step.status();
    if (step.ok()) {
      StepContext ctx(this, catalog_, job, i, args);
      s = (*step)->Rollback(ctx);
    }
    if (s.ok()) {
      (void)catalog_->AppendLog(job.id, i, "info", "rolled back " + StepLabel(st));
      (void)MarkStep(st, StepState::kRolledBack);
    } else {
      (void)catalog_->AppendLog(job.id, i, "error",
                                "rollback of " + StepLabel(st) + " failed: " + s.ToString());
      (void)MarkStep(st, StepState::kFailed, "rollback failed: " + s.ToString());
      if (first_failure.ok()) first_failure = s.WithContext("rollback of " + StepLabel(st));
    }
  }
  return first_failure;
}

void JobRunner::RunJob(int64_t job_id, bool recovering) {
  auto loaded = catalog_->GetJob(job_id);
  if (!loaded.ok()) {
    log::Error("jobs",
               "cannot load job " + std::to_string(job_id) + ": " + loaded.status().ToString());
    return;
  }
  Job job = std::move(*loaded);
  if (IsFinal(job.state) || job.steps.empty()) return;
  auto note = [&](const std::string& action) {
    if (!recovering) return;
    std::lock_guard lock(mu_);
    recovered_.push_back({job.id, action});
  };
  auto finish = [&](JobState state, std::string error, const Status& rollback) {
    if (!rollback.ok()) error += "; " + rollback.message();
    (void)catalog_->SetJobState(job.id, state, error);
    (void)catalog_->AppendLog(
        job.id, -1, state == JobState::kDone ? "info" : "warn",
        "job " + std::string(JobStateName(state)) + (error.empty() ? "" : ": " + error));
    (void)catalog_->Audit(options_.actor, "job." + std::string(JobStateName(state)),
                          "job/" + std::to_string(job.id),
                          job.kind + " " + job.target + (error.empty() ? "" : ": " + error));
  };

  if (job.cancel_requested) {
    note("cancel");
    Status rb = RollbackSteps(job, LastTouched(job));
    finish(JobState::kCancelled, "cancelled by the operator", rb);
    return;
  }
  int first = -1;
  bool rolling_back = false;
  for (const JobStep& s : job.steps) {
    if (s.state == StepState::kRolledBack) rolling_back = true;
    if (first < 0 && s.state != StepState::kDone && s.state != StepState::kSkipped) first = s.index;
  }
  if (rolling_back) {
    // Interrupted during a rollback: finish it (rollbacks tolerate repeated calls).
    note("rollback");
    Status rb = RollbackSteps(job, LastTouched(job));
    finish(JobState::kRolledBack, "rollback completed after a restart", rb);
    return;
  }
  if (first < 0) {
    finish(JobState::kDone, "", Status::Ok());
    return;
  }
  if (recovering && job.state == JobState::kRunning) {
    JobStep& st = job.steps[static_cast<size_t>(first)];
    Json args = Json::parse(st.args_json, nullptr, false);
    auto step = registry_->Create(st.name, args.is_discarded() ? Json::object() : args);
    if (!step.ok() || !(*step)->Resumable()) {
      note("rollback");
      (void)catalog_->AppendLog(
          job.id, -1, "warn",
          "interrupted at " + StepLabel(st) + ", which cannot resume: rolling back");
      Status rb = RollbackSteps(job, LastTouched(job));
      finish(JobState::kRolledBack,
             "interrupted at " + StepLabel(st) +
                 " by a restart; the step cannot resume, so the job was rolled back",
             rb);
      return;
    }
    note("resume");
    (void)catalog_->AppendLog(job.id, -1, "info",
                              "resuming at " + StepLabel(st) + " after a restart");
  } else {
    note("start");
  }

  if (!catalog_->SetJobState(job.id, JobState::kRunning).ok()) return;
  job.state = JobState::kRunning;
  for (size_t i = static_cast<size_t>(first); i < job.steps.size(); ++i) {
    JobStep& st = job.steps[i];
    if (stopping()) return;  // the job stays "running": the next start resumes or rolls back
    auto cancelled = catalog_->CancelRequested(job.id);
    if (cancelled.ok() && *cancelled) {
      Status rb = RollbackSteps(job, static_cast<int>(i) - 1);
      finish(JobState::kCancelled, "cancelled by the operator before " + StepLabel(st), rb);
      return;
    }
    Json args = Json::parse(st.args_json, nullptr, false);
    if (args.is_discarded()) args = Json::object();
    auto step = registry_->Create(st.name, args);
    if (!step.ok()) {
      (void)MarkStep(st, StepState::kFailed, step.status().ToString());
      Status rb =
          job.rollback_on_failure ? RollbackSteps(job, static_cast<int>(i) - 1) : Status::Ok();
      finish(JobState::kFailed, StepLabel(st) + ": " + step.status().message(), rb);
      return;
    }
    if (!MarkStep(st, StepState::kRunning).ok()) return;
    (void)catalog_->AppendLog(job.id, st.index, "info",
                              "started " + StepLabel(st) + ": " + st.title);
    StepContext ctx(this, catalog_, job, st.index, args);
    Status s = (*step)->Run(ctx);
    if (s.ok()) {
      (void)MarkStep(st, StepState::kDone);
      continue;
    }
    if (stopping()) {
      (void)catalog_->AppendLog(job.id, st.index, "warn",
                                StepLabel(st) + " interrupted: the runner stopped");
      return;  // left "running", as a crash would leave it
    }
    (void)MarkStep(st, StepState::kFailed, s.ToString());
    (void)catalog_->AppendLog(job.id, st.index, "error",
                              StepLabel(st) + " failed: " + s.ToString());
    cancelled = catalog_->CancelRequested(job.id);
    if (cancelled.ok() && *cancelled) {
      Status rb = RollbackSteps(job, static_cast<int>(i));
      finish(JobState::kCancelled, "cancelled by the operator during " + StepLabel(st), rb);
      return;
    }
    Status rb = job.rollback_on_failure ? RollbackSteps(job, static_cast<int>(i)) : Status::Ok();
    finish(JobState::kFailed, StepLabel(st) + " failed: " + s.message(), rb);
    return;
  }
  finish(JobState::kDone, "", Status::Ok());
}

}  // namespace lifeline::control
