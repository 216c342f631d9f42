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
#include "phc/trainers/chip_network.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/run.h"
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

class TrainingRun final : public Run {
 public:
  // params: the network's trainable phases (network.trainable_phases()
  // order); the chip's other phases stay at `base_phases`.
  TrainingRun(ChipOracle& oracle, ChipNetwork& network, const Dataset& train, const Dataset& test,
              std::unique_ptr<ZoOptimizer> optimizer, const TrainingOptions& options,
              std::vector<double> base_phases, std::vector<double> params);

  absl::StatusOr<TrainingProgress> Step() override;
  // Test accuracy with the present parameters on up to `samples` samples
  // (0: all).
  absl::StatusOr<double> Evaluate(const Dataset& data, int samples);

  StopReason stop_reason() const override { return stop_reason_; }
  const TrainingProgress& progress() const override { return progress_; }
  const std::vector<double>& params() const { return params_; }
  const ZoOptimizer& optimizer() const { return *optimizer_; }
  ZoOptimizer& optimizer() { return *optimizer_; }

  // Checkpoints: the parameters, every phase of the chip, the optimizer's
  // state and the power sum. Restore: DATA_LOSS "the checkpoint does not fit
  // the chip" unless the parameters are the network's trainable phases and the
  // base phases every phase of the oracle's chip.
  RunCheckpoint Save() const override;
  absl::Status Restore(const RunCheckpoint& checkpoint) override;
  double power_sum_mw() const { return power_sum_mw_; }

  LossFn MakeLoss(const std::vector<int>& rows);
  std::vector<double> FullPhases(std::span<const double> params) const;

 private:
  ChipOracle& oracle_;
  ChipNetwork& network_;
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
