// Private to trainers: what the runs that adapt a deployed model on its
// cores share (gift, and pat / dat from a model): the model and its
// placement, the chip, the data and minibatches, writing a step's phases
// (taken back when PowerGuard refuses them), the session's bookkeeping
// after a step, checkpoints and the test accuracy on the chip.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "session_runs.h"

namespace phc::trainers::runs {

class DeployedModelRun : public Run {
 public:
  DeployedModelRun(ChipModel chip_model, ChipOracle& oracle, std::vector<double> base_phases,
                   const TrainTestSplit& data, const photonic::v1::SessionConfig& config);

  const TrainingProgress& progress() const override { return progress_; }
  StopReason stop_reason() const override { return stop_reason_; }
  // The model's accuracy measured on the chip over config.test_samples().
  absl::StatusOr<double> Evaluate();

 protected:
  Dataset Minibatch() { return minibatches_.At(progress_.step); }
  // Writes the model's phases to its cores, the chip's others unchanged.
  absl::Status Deploy();
  // After an update from `before`: writes it; when PowerGuard refuses the
  // phases (FAILED_PRECONDITION) the chip stays as it was and the model
  // goes back to `before`, and the run goes on.
  absl::Status DeployOrTakeBack(const Eigen::VectorXd& before);
  // Counts the step, its loss and loss evaluations, evaluates every
  // eval_every steps and sets the stop reason.
  absl::StatusOr<TrainingProgress> FinishStep(double loss, std::int64_t loss_evaluations);
  RunCheckpoint CheckpointWith(std::vector<double> optimizer_state) const;
  // The checkpoint's parameters, optimizer state (through
  // restore_optimizer) and progress, then the parameters written.
  absl::Status RestoreAndDeploy(
      const RunCheckpoint& checkpoint,
      const std::function<absl::Status(std::span<const double>)>& restore_optimizer);

  onn::Model model_;
  onn::ChipPlacement placement_;
  ChipOracle& oracle_;

 private:
  std::vector<double> base_phases_;  // the chip's phases outside the model's cores
  const TrainTestSplit& data_;
  photonic::v1::SessionConfig config_;
  EpochMinibatches minibatches_;
  TrainingProgress progress_;
  StopReason stop_reason_ = StopReason::kNone;
};

}  // namespace phc::trainers::runs
