// One training run: a model on a chip oracle, a dataset, a ZO optimizer and
// the budgets. Step() does one optimizer iteration on a fresh minibatch, so
// a caller (the daemon's session, a bench, a test) can interleave steps with
// other work, report progress and checkpoint between them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {

struct TrainingOptions {
  int batch_size = 32;
  std::int64_t max_steps = 1000;
  std::int64_t max_loss_evaluations = 0;  // 0: no query budget
  double target_accuracy = 0.0;           // stop once test accuracy reaches it (0: never)
  int eval_every = 50;                    // steps between test evaluations (0: only at the end)
  int eval_samples = 256;                 // test samples per evaluation (0: all)
  // Heater power allowed for any configuration sent (0: the chip's own
  // limit only). A probe over it fails the step with FAILED_PRECONDITION.
  double power_budget_mw = 0.0;
  std::uint64_t seed = 1;
};

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

class TrainingRun {
 public:
  // params: the model's trainable phases (model.trainable_phases() order);
  // the chip's other phases stay at `base_phases`.
  TrainingRun(ChipOracle& oracle, const OnnModel& model, const Dataset& train, const Dataset& test,
              std::unique_ptr<ZoOptimizer> optimizer, const TrainingOptions& options,
              std::vector<double> base_phases, std::vector<double> params);

  absl::StatusOr<TrainingProgress> Step();
  // Test accuracy with the present parameters on up to `samples` samples
  // (0: all).
  absl::StatusOr<double> Evaluate(const Dataset& data, int samples);

  StopReason stop_reason() const { return stop_reason_; }
  bool done() const { return stop_reason_ != StopReason::kNone; }
  const TrainingProgress& progress() const { return progress_; }
  const std::vector<double>& params() const { return params_; }
  const ZoOptimizer& optimizer() const { return *optimizer_; }
  ZoOptimizer& optimizer() { return *optimizer_; }

  // Checkpoint support: resume at `progress.step` with these parameters.
  void Restore(const TrainingProgress& progress, std::vector<double> params, double power_sum_mw);
  double power_sum_mw() const { return power_sum_mw_; }

  LossFn MakeLoss(const std::vector<int>& rows);
  std::vector<double> FullPhases(std::span<const double> params) const;

 private:
  ChipOracle& oracle_;
  const OnnModel& model_;
  const Dataset& train_;
  const Dataset& test_;
  std::unique_ptr<ZoOptimizer> optimizer_;
  TrainingOptions options_;
  std::vector<double> base_phases_;
  std::vector<double> params_;
  TrainingProgress progress_;
  double power_sum_mw_ = 0.0;
  StopReason stop_reason_ = StopReason::kNone;
};

}  // namespace phc::trainers
