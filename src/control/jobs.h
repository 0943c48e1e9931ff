// The job runner: every operation is a job, an ordered list of named steps persisted in the
// catalog with state, progress and log. Steps come from a registry (interface + factory by
// name), so new operations add steps without touching the runner. After a restart a job
// that was running resumes at its first unfinished step when that step is resumable
// (idempotent); otherwise its completed steps are rolled back in reverse order.
// Thread-safe: StepRegistry is filled before the runner starts and then only read;
// JobRunner's public methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "control/catalog.h"

namespace lifeline::control {

class JobRunner;

// What a running step sees: its arguments, the job, and ways to report and to wait.
class StepContext {
 public:
  StepContext(JobRunner* runner, Catalog* catalog, const Job& job, int step_index,
              nlohmann::json args)
      : runner_(runner),
        catalog_(catalog),
        job_(job),
        step_index_(step_index),
        args_(std::move(args)) {}

  int64_t job_id() const { return job_.id; }
  int step_index() const { return step_index_; }
  const Job& job() const { return job_; }
  const nlohmann::json& args() const { return args_; }
  Catalog* catalog() const { return catalog_; }

  void Log(const std::string& text);
  void Warn(const std::string& text);
  void Error(const std::string& text);
  void Progress(int percent);

  // True when the job was cancelled (by any process) or the runner is stopping. A step
  // that sees it returns promptly; the runner then decides what the job becomes.
  bool ShouldStop();
  bool Stopping() const;
  // Sleeps up to `ms`, waking early on stop or cancel; false if woken early.
  bool SleepMs(int64_t ms);
  // Waits for `lifeline plan continue` (a catalog signal named `name` for this step).
  // true: the signal came; false: `timeout_ms` passed (<= 0: no timeout). Busy when the
  // runner stops meanwhile, FailedPrecondition when the job is cancelled.
  Result<bool> WaitForSignal(const std::string& name, int64_t timeout_ms);

 private:
  JobRunner* runner_;
  Catalog* catalog_;
  const Job& job_;
  int step_index_;
  nlohmann::json args_;
};

class Step {
 public:
  virtual ~Step() = default;
  virtual Status Run(StepContext& ctx) = 0;
  // Undoes Run, also a partial or interrupted Run; must tolerate work never done.
  virtual Status Rollback(StepContext& ctx) {
    (void)ctx;
    return Status::Ok();
  }
  // True when Run may simply run again after an interruption (it is idempotent).
  virtual bool Resumable() const { return false; }
};

using StepFactory = std::function<Result<std::unique_ptr<Step>>(const nlohmann::json& args)>;

class StepRegistry {
 public:
  // InvalidArgument if the name is already taken.
  Status Register(const std::string& name, StepFactory factory);
  Result<std::unique_ptr<Step>> Create(const std::string& name, const nlohmann::json& args) const;
  bool Has(const std::string& name) const { return factories_.count(name) > 0; }
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, StepFactory> factories_;
};

struct StepSpec {
  std::string name;
  std::string title;
  nlohmann::json args = nlohmann::json::object();
};

struct JobSpec {
  std::string kind;
  std::string target;
  nlohmann::json params = nlohmann::json::object();
  std::vector<StepSpec> steps;
  // On a failed step: roll back the completed steps (true) or leave them as they are.
  bool rollback_on_failure = true;
};

struct RunnerOptions {
  int workers = 2;               // jobs that run at the same time
  size_t max_queued_jobs = 256;  // Submit answers Busy beyond this
  int poll_interval_ms = 100;    // how often waiting steps look at the catalog
  std::string actor = "vault";   // audit actor
};

// What Start() did with each job it found unfinished in the catalog.
struct RecoveredJob {
  int64_t job_id = 0;
  std::string action;  // "resume", "rollback", "cancel", "start"
};

class JobRunner {
 public:
  JobRunner(Catalog* catalog, const StepRegistry* registry, RunnerOptions options = {});
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Looks at unfinished jobs in the catalog (resume, roll back or start them) and starts
  // the workers.
  Status Start();
  // Stops the workers. A step in progress is asked to stop and, if it does, stays
  // "running" in the catalog, exactly as after a crash; Start() on a new runner over the
  // same catalog then resumes or rolls back. Idempotent.
  void Stop();

  // Persists the job and queues it. InvalidArgument for unknown step names; Busy when the
  // queue is full.
  Result<int64_t> Submit(const JobSpec& spec);
  // Asks a job to stop: it rolls back its completed steps and ends "cancelled".
  Status Cancel(int64_t job_id);
  // Waits until the job reaches a final state or `timeout_ms` passes (Busy then).
  Result<Job> Wait(int64_t job_id, int64_t timeout_ms);

  std::vector<RecoveredJob> recovered() const {
    std::lock_guard lock(mu_);
    return recovered_;
  }
  bool stopping() const;

 private:
  friend class StepContext;
  void WorkerLoop();
  void Enqueue(int64_t job_id);
  void RunJob(int64_t job_id, bool recovering);
  // Rolls back the steps at indices <= `last` that did work; returns the first failure.
  Status RollbackSteps(Job& job, int last);
  Status MarkStep(JobStep& step, StepState state, const std::string& error = "");
  void Wake();
  // Sleeps on the runner's condition variable; returns early on Wake().
  void WaitWake(int64_t ms);

  Catalog* catalog_;
  const StepRegistry* registry_;
  RunnerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // queue changes, stop, cancel, job finished
  std::deque<int64_t> queue_;
  std::set<int64_t> active_;  // queued or running here
  bool stopping_ = false;
  bool started_ = false;
  uint64_t wake_generation_ = 0;
  std::vector<std::thread> workers_;
  std::vector<RecoveredJob> recovered_;
};

}  // namespace lifeline::control
