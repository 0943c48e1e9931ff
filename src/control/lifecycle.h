// The protected-machine lifecycle as a table of (state, event) -> state, with the drill
// sub-state beside it. One SetState checks, audits and counts every transition; a refused
// transition names the current state and what the operator can do instead.
// Thread-safe: the table is constant; Lifecycle's counters are atomic and the catalog
// compare-and-set makes concurrent transitions of one machine safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "control/catalog.h"

namespace lifeline::control {

enum class MachineState : uint8_t {
  kEnabling,
  kInitialReplication,
  kProtected,
  kFailoverInProgress,
  kFailedOver,
  kCommitted,
  kReprotecting,
  kDisabled,
};
inline constexpr int kMachineStateCount = 8;

enum class MachineEvent : uint8_t {
  kStartInitialReplication,  // the agent connected and the full copy began
  kInitialReplicationDone,
  kResyncRequired,  // the replica can no longer follow the source (e.g. disk resized)
  kFailoverStart,   // also failback: a failover while the direction is reverse
  kFailoverDone,
  kFailoverFailed,
  kChangePoint,     // before commit: fail over again to another recovery point
  kCancelFailover,  // before commit: stop the recovered machine, resume replication
  kCommit,          // accept the failover: the other recovery points are dropped
  kReprotectStart,
  kReprotectDone,  // replication now runs the other way
  kReprotectFailed,
  kDisable,
  kEnable,
};
inline constexpr int kMachineEventCount = 14;

enum class DrillState : uint8_t { kNone, kDrillRunning, kDrillDoneCleanupPending };
enum class DrillEvent : uint8_t { kDrillStart, kDrillStop, kDrillFailed, kDrillCleanupDone };

std::string_view StateName(MachineState s);
std::string_view EventName(MachineEvent e);
std::string_view DrillStateName(DrillState s);
std::string_view DrillEventName(DrillEvent e);
Result<MachineState> ParseMachineState(std::string_view name);
Result<DrillState> ParseDrillState(std::string_view name);

struct Transition {
  MachineState from;
  MachineEvent event;
  MachineState to;
};
struct DrillTransition {
  DrillState from;
  DrillEvent event;
  DrillState to;
};

// The whole tables, for tests, docs and `lifeline machine states`.
std::span<const Transition> MachineTransitions();
std::span<const DrillTransition> DrillTransitions();

// Pure decisions. `machine` only names the machine in messages and hints.
// A refused transition is FailedPrecondition: "machine web1 is failed-over: cannot ...
// Allowed now: ...".
Result<MachineState> NextState(const std::string& machine, MachineState from, MachineEvent event,
                               DrillState drill = DrillState::kNone);
Result<DrillState> NextDrillState(const std::string& machine, DrillState from, DrillEvent event,
                                  MachineState machine_state);

// Replication health of a protected machine from its current RPO (age of the newest
// recovery point the vault holds) and its policy's thresholds.
enum class Health : uint8_t { kHealthy, kWarning, kCritical };
std::string_view HealthName(Health h);
Health HealthFor(const Policy& policy, int64_t rpo_seconds);

// What the operator can do now in `state`, as a sentence for error messages.
std::string AllowedActionsHint(const std::string& machine, MachineState state);

class Lifecycle {
 public:
  explicit Lifecycle(Catalog* catalog) : catalog_(catalog) {}

  // Moves the machine by `event`, with a compare-and-set in the catalog and an audit entry.
  // Returns the new state. A reprotect-done flips the replication direction.
  Result<MachineState> SetState(const std::string& machine, MachineEvent event,
                                const std::string& actor);
  Result<DrillState> SetDrillState(const std::string& machine, DrillEvent event,
                                   const std::string& actor);

  uint64_t TransitionCount(MachineState from, MachineState to) const;
  uint64_t DrillTransitionCount(DrillState from, DrillState to) const;
  uint64_t RefusedCount() const { return refused_.load(); }

 private:
  Catalog* catalog_;
  std::array<std::atomic<uint64_t>, kMachineStateCount * kMachineStateCount> counts_{};
  std::array<std::atomic<uint64_t>, 9> drill_counts_{};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace lifeline::control
