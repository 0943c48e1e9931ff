#include "control/lifecycle.h"

#include <vector>

namespace lifeline::control {
namespace {

using S = MachineState;
using E = MachineEvent;
using D = DrillState;
using DE = DrillEvent;

constexpr Transition kTransitions[] = {
    {S::kEnabling, E::kStartInitialReplication, S::kInitialReplication},
    {S::kEnabling, E::kDisable, S::kDisabled},
    {S::kInitialReplication, E::kInitialReplicationDone, S::kProtected},
    {S::kInitialReplication, E::kDisable, S::kDisabled},
    {S::kProtected, E::kResyncRequired, S::kInitialReplication},
    {S::kProtected, E::kFailoverStart, S::kFailoverInProgress},
    {S::kProtected, E::kDisable, S::kDisabled},
    {S::kFailoverInProgress, E::kFailoverDone, S::kFailedOver},
    {S::kFailoverInProgress, E::kFailoverFailed, S::kProtected},
    {S::kFailedOver, E::kChangePoint, S::kFailoverInProgress},
    {S::kFailedOver, E::kCancelFailover, S::kProtected},
    {S::kFailedOver, E::kCommit, S::kCommitted},
    {S::kCommitted, E::kReprotectStart, S::kReprotecting},
    {S::kCommitted, E::kDisable, S::kDisabled},
    {S::kReprotecting, E::kReprotectDone, S::kProtected},
    {S::kReprotecting, E::kReprotectFailed, S::kCommitted},
    {S::kDisabled, E::kEnable, S::kEnabling},
};

constexpr DrillTransition kDrillTransitions[] = {
    {D::kNone, DE::kDrillStart, D::kDrillRunning},
    {D::kDrillRunning, DE::kDrillStop, D::kDrillDoneCleanupPending},
    {D::kDrillRunning, DE::kDrillFailed, D::kDrillDoneCleanupPending},
    {D::kDrillDoneCleanupPending, DE::kDrillCleanupDone, D::kNone},
};

constexpr std::string_view kStateNames[] = {
    "enabling",    "initial-replication", "protected",     "failover-in-progress",
    "failed-over", "committed",           "re-protecting", "disabled"};
constexpr std::string_view kEventNames[] = {"start-initial-replication",
                                            "initial-replication-done",
                                            "resync-required",
                                            "failover-start",
                                            "failover-done",
                                            "failover-failed",
                                            "change-point",
                                            "cancel-failover",
                                            "commit",
                                            "reprotect-start",
                                            "reprotect-done",
                                            "reprotect-failed",
                                            "disable",
                                            "enable"};
constexpr std::string_view kDrillStateNames[] = {"none", "drill-running",
                                                 "drill-done-cleanup-pending"};
constexpr std::string_view kDrillEventNames[] = {"drill-start", "drill-stop", "drill-failed",
                                                 "drill-cleanup-done"};

// What an operator types for an event; empty for events only a job raises.
std::string CommandFor(MachineEvent e, const std::string& m) {
  switch (e) {
    case E::kFailoverStart:
      return "fail over (`lifeline failover start " + m + "`)";
    case E::kChangePoint:
      return "change the recovery point (`lifeline failover change-point " + m + " --point ID`)";
    case E::kCancelFailover:
      return "cancel the failover (`lifeline failover cancel " + m + "`)";
    case E::kCommit:
      return "commit the failover (`lifeline failover commit " + m + "`)";
    case E::kReprotectStart:
      return "re-protect (`lifeline machine reprotect " + m + "`)";
    case E::kDisable:
      return "disable protection (`lifeline machine disable " + m + "`)";
    case E::kEnable:
      return "enable protection (`lifeline machine enable " + m + "`)";
    case E::kResyncRequired:
      return "force a full resync (`lifeline machine resync " + m + "`)";
    default:
      return "";
  }
}

// The verb phrase of an event for "cannot ..." messages.
std::string_view Verb(MachineEvent e) {
  switch (e) {
    case E::kStartInitialReplication:
      return "start initial replication";
    case E::kInitialReplicationDone:
      return "finish initial replication";
    case E::kResyncRequired:
      return "resync";
    case E::kFailoverStart:
      return "fail over";
    case E::kFailoverDone:
      return "finish a failover";
    case E::kFailoverFailed:
      return "fail a failover";
    case E::kChangePoint:
      return "change the recovery point";
    case E::kCancelFailover:
      return "cancel a failover";
    case E::kCommit:
      return "commit";
    case E::kReprotectStart:
      return "re-protect";
    case E::kReprotectDone:
      return "finish a re-protect";
    case E::kReprotectFailed:
      return "fail a re-protect";
    case E::kDisable:
      return "disable protection";
    case E::kEnable:
      return "enable protection";
  }
  return "?";
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

std::string_view StateName(MachineState s) { return kStateNames[static_cast<int>(s)]; }
std::string_view EventName(MachineEvent e) { return kEventNames[static_cast<int>(e)]; }
std::string_view DrillStateName(DrillState s) { return kDrillStateNames[static_cast<int>(s)]; }
std::string_view DrillEventName(DrillEvent e) { return kDrillEventNames[static_cast<int>(e)]; }

Result<MachineState> ParseMachineState(std::string_view name) {
  for (int i = 0; i < kMachineStateCount; ++i) {
    if (kStateNames[i] == name) return static_cast<MachineState>(i);
  }
  return Status::Corruption("unknown machine state '" + std::string(name) + "'");
}

Result<DrillState> ParseDrillState(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (kDrillStateNames[i] == name) return static_cast<DrillState>(i);
  }
  return Status::Corruption("unknown drill state '" + std::string(name) + "'");
}

std::span<const Transition> MachineTransitions() { return kTransitions; }

std::string_view HealthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "Healthy";
    case Health::kWarning:
      return "Warning";
    case Health::kCritical:
      return "Critical";
  }
  return "Critical";
}

Health HealthFor(const Policy& policy, int64_t rpo_seconds) {
  if (rpo_seconds >= policy.rpo_critical_seconds) return Health::kCritical;
  if (rpo_seconds >= policy.rpo_warning_seconds) return Health::kWarning;
  return Health::kHealthy;
}
std::span<const DrillTransition> DrillTransitions() { return kDrillTransitions; }

std::string AllowedActionsHint(const std::string& machine, MachineState state) {
  std::vector<std::string> actions;
  bool job_driven = false;
  for (const Transition& t : kTransitions) {
    if (t.from != state) continue;
    std::string c = CommandFor(t.event, machine);
    if (c.empty()) {
      job_driven = true;
    } else {
      actions.push_back(std::move(c));
    }
  }
  std::string hint;
  if (job_driven) {
    hint = "wait for its running job to finish (`lifeline job list --target " + machine + "`)";
    if (!actions.empty()) hint += ", or ";
  }
  if (!actions.empty()) hint += Join(actions, ", or ");
  return hint;
}

Result<MachineState> NextState(const std::string& machine, MachineState from, MachineEvent event,
                               DrillState drill) {
  for (const Transition& t : kTransitions) {
    if (t.from != from || t.event != event) continue;
    // A running drill holds recovered copies of this machine; a failover or disable must
    // not race with them (Zerto likewise refuses a failover while a test starts or stops).
    if (drill == D::kDrillRunning &&
        (event == E::kFailoverStart || event == E::kChangePoint || event == E::kDisable)) {
      return Status::FailedPrecondition(
          "machine " + machine + " has a drill running: cannot " + std::string(Verb(event)) +
          " now. Stop and clean up the drill first (`lifeline drill cleanup " + machine + "`)");
    }
    return t.to;
  }
  std::vector<std::string> needs;
  for (const Transition& t : kTransitions) {
    if (t.event == event) needs.emplace_back(StateName(t.from));
  }
  std::string m = "machine " + machine + " is " + std::string(StateName(from)) + ": cannot " +
                  std::string(Verb(event));
  if (!needs.empty()) m += " (needs " + Join(needs, " or ") + ")";
  std::string hint = AllowedActionsHint(machine, from);
  if (!hint.empty()) m += ". Now you can " + hint;
  return Status::FailedPrecondition(m);
}

Result<DrillState> NextDrillState(const std::string& machine, DrillState from, DrillEvent event,
                                  MachineState machine_state) {
  if (event == DE::kDrillStart && machine_state != S::kProtected) {
    std::string why = machine_state == S::kEnabling || machine_state == S::kInitialReplication
                          ? " (no recovery point yet: wait for initial replication to finish)"
                          : " (a drill needs a protected machine)";
    return Status::FailedPrecondition("machine " + machine + " is " +
                                      std::string(StateName(machine_state)) +
                                      ": cannot start a drill" + why);
  }
  for (const DrillTransition& t : kDrillTransitions) {
    if (t.from == from && t.event == event) return t.to;
  }
  std::string m = "machine " + machine + " drill state is " + std::string(DrillStateName(from)) +
                  ": cannot " + std::string(DrillEventName(event));
  switch (from) {
    case D::kNone:
      m += ". No drill is running; start one with `lifeline drill start " + machine + "`";
      break;
    case D::kDrillRunning:
      m += ". A drill is running; stop it and clean up with `lifeline drill cleanup " + machine +
           "`";
      break;
    case D::kDrillDoneCleanupPending:
      m += ". The last drill awaits cleanup: run `lifeline drill cleanup " + machine + "`";
      break;
  }
  return Status::FailedPrecondition(m);
}

Result<MachineState> Lifecycle::SetState(const std::string& machine, MachineEvent event,
                                         const std::string& actor) {
  LL_ASSIGN_OR_RETURN(Machine m, catalog_->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(MachineState from, ParseMachineState(m.state));
  LL_ASSIGN_OR_RETURN(DrillState drill, ParseDrillState(m.drill_state));
  auto next = NextState(machine, from, event, drill);
  if (!next.ok()) {
    refused_++;
    (void)catalog_->Audit(actor, "machine.refused", "machine/" + machine,
                          std::string(EventName(event)) + ": " + next.status().message());
    return next.status();
  }
  std::string direction = m.direction;
  if (event == E::kReprotectDone) direction = direction == "forward" ? "reverse" : "forward";
  LL_RETURN_IF_ERROR(
      catalog_->SetMachineState(m.id, m.state, std::string(StateName(*next)), direction));
  counts_[static_cast<int>(from) * kMachineStateCount + static_cast<int>(*next)]++;
  (void)catalog_->Audit(actor, "machine.state", "machine/" + machine,
                        std::string(StateName(from)) + " -" + std::string(EventName(event)) +
                            "-> " + std::string(StateName(*next)) + " (" + direction + ")");
  return *next;
}

Result<DrillState> Lifecycle::SetDrillState(const std::string& machine, DrillEvent event,
                                            const std::string& actor) {
  LL_ASSIGN_OR_RETURN(Machine m, catalog_->GetMachineByName(machine));
  LL_ASSIGN_OR_RETURN(MachineState state, ParseMachineState(m.state));
  LL_ASSIGN_OR_RETURN(DrillState from, ParseDrillState(m.drill_state));
  auto next = NextDrillState(machine, from, event, state);
  if (!next.ok()) {
    refused_++;
    (void)catalog_->Audit(actor, "drill.refused", "machine/" + machine,
                          std::string(DrillEventName(event)) + ": " + next.status().message());
    return next.status();
  }
  LL_RETURN_IF_ERROR(
      catalog_->SetDrillState(m.id, m.drill_state, std::string(DrillStateName(*next))));
  drill_counts_[static_cast<int>(from) * 3 + static_cast<int>(*next)]++;
  (void)catalog_->Audit(actor, "drill.state", "machine/" + machine,
                        std::string(DrillStateName(from)) + " -" +
                            std::string(DrillEventName(event)) + "-> " +
                            std::string(DrillStateName(*next)));
  return *next;
}

uint64_t Lifecycle::TransitionCount(MachineState from, MachineState to) const {
  return counts_[static_cast<int>(from) * kMachineStateCount + static_cast<int>(to)].load();
}

uint64_t Lifecycle::DrillTransitionCount(DrillState from, DrillState to) const {
  return drill_counts_[static_cast<int>(from) * 3 + static_cast<int>(to)].load();
}

}  // namespace lifeline::control
