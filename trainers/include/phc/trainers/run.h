// What every training run is to its caller (a session in the daemon, a
// bench, a test): steps one at a time, progress, a stop reason, and one
// checkpoint type to save and restore. The ZO TrainingRun, DfaRun, InSituRun
// and NtkdRun implement it; run_registry.h builds them by algorithm name.
//
// Thread safety: none. A run is used from one thread at a time (the
// daemon's hardware thread when it trains on the chip).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"

namespace phc::trainers {

struct TrainingProgress {
  std::int64_t step = 0;              // completed steps
  std::int64_t loss_evaluations = 0;  // function queries
  OracleCost cost;                    // chip queries, writes, energy, time
  double loss = 0.0;                  // minibatch loss at the last step
  double test_accuracy = -1.0;        // last evaluation (-1: none yet)
  double heater_power_mw = 0.0;       // at the present parameters
  double mean_heater_power_mw = 0.0;  // over the steps so far
};

enum class StopReason { kNone, kMaxSteps, kQueryBudget, kTargetAccuracy };
std::string StopReasonName(StopReason reason);

// Everything a run needs to continue exactly where it was. Each run fills
// the fields it has and leaves the others empty; the daemon stores them one
// to one in photonic.v1.SessionCheckpoint.
struct RunCheckpoint {
  TrainingProgress progress;  // `cost` is not kept: it counts one process's chip use
  // The trained parameters: ZO, the model's trainable phases (rad); pat,
  // dat, ntkd: every network parameter.
  std::vector<double> params;
  std::vector<double> base_phases_rad;  // ZO: every phase of the chip
  std::vector<double> optimizer_state;  // beyond the parameters (momenta, Adam moments)
  std::vector<float> network_state;     // DFA: weights and biases, then momentum buffers
  // ZO: ChipNetwork::SaveState (a deployed model: its receivers' calibration).
  std::vector<double> chip_network_state;
  double power_sum_mw = 0.0;  // heater_power_mw summed over the steps so far
};

// The checkpoint of a run that keeps only progress, parameters and optimizer
// state (pat, dat, ntkd).
inline RunCheckpoint ParameterCheckpoint(const TrainingProgress& progress,
                                         std::vector<double> params,
                                         std::vector<double> optimizer_state) {
  RunCheckpoint checkpoint;
  checkpoint.progress = progress;
  checkpoint.params = std::move(params);
  checkpoint.optimizer_state = std::move(optimizer_state);
  return checkpoint;
}

class Run {
 public:
  virtual ~Run() = default;

  // One step; after done(), returns the progress unchanged. A failed step
  // leaves the run where the error found it (the session ends).
  virtual absl::StatusOr<TrainingProgress> Step() = 0;
  virtual const TrainingProgress& progress() const = 0;
  virtual StopReason stop_reason() const = 0;
  bool done() const { return stop_reason() != StopReason::kNone; }

  virtual RunCheckpoint Save() const = 0;
  // Continues at checkpoint.progress.step as if the steps before it had run
  // here. DATA_LOSS when the checkpoint does not fit the run.
  virtual absl::Status Restore(const RunCheckpoint& checkpoint) = 0;
};

}  // namespace phc::trainers
