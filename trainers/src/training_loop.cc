#include "phc/trainers/training_loop.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/step_random.h"

namespace phc::trainers {

TrainingRun::TrainingRun(ChipOracle& oracle, ChipNetwork& network, const Dataset& train,
                         const Dataset& test, std::unique_ptr<ZoOptimizer> optimizer,
                         const TrainingOptions& options, std::vector<double> base_phases,
                         std::vector<double> params)
    : oracle_(oracle),
      network_(network),
      train_(train),
      test_(test),
      optimizer_(std::move(optimizer)),
      options_(options),
      base_phases_(std::move(base_phases)),
      params_(std::move(params)) {}

std::vector<double> TrainingRun::FullPhases(std::span<const double> params) const {
  std::vector<double> phases = base_phases_;
  const std::vector<int>& trainable = network_.trainable_phases();
  for (std::size_t i = 0; i < trainable.size(); ++i) phases[trainable[i]] = params[i];
  return phases;
}

LossFn TrainingRun::MakeLoss(const std::vector<int>& rows) {
  Eigen::MatrixXd batch(static_cast<Eigen::Index>(rows.size()), train_.feature_count());
  std::vector<int> labels(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    batch.row(static_cast<Eigen::Index>(i)) = train_.features.row(rows[i]);
    labels[i] = train_.labels[rows[i]];
  }
  return [this, batch = std::move(batch),
          labels = std::move(labels)](std::span<const double> params) -> absl::StatusOr<double> {
    const std::vector<double> phases = FullPhases(params);
    if (options_.power_budget_mw > 0.0) {
      const double power_mw = oracle_.HeaterPowerMw(phases);
      if (power_mw > options_.power_budget_mw) {
        return absl::FailedPreconditionError(absl::StrCat(
            "a probe needs ", power_mw, " mW of heater power, over the run's budget of ",
            options_.power_budget_mw, " mW"));
      }
    }
    if (absl::Status s = oracle_.SetPhases(phases); !s.ok()) return s;
    absl::StatusOr<Eigen::MatrixXd> logits = network_.Forward(oracle_, batch);
    if (!logits.ok()) return logits.status();
    ++progress_.loss_evaluations;
    return CrossEntropy(*logits, labels);
  };
}

absl::StatusOr<TrainingProgress> TrainingRun::Step() {
  if (done()) return progress_;
  std::mt19937_64 rng = StepRandom(options_.seed ^ 0x5eed0fba7c4ULL, progress_.step);
  std::uniform_int_distribution<int> pick(0, train_.size() - 1);
  std::vector<int> rows(options_.batch_size);
  for (int& r : rows) r = pick(rng);
  absl::StatusOr<StepResult> result = optimizer_->Step(params_, MakeLoss(rows), progress_.step);
  if (!result.ok()) return result.status();
  ++progress_.step;
  progress_.loss = result->loss;
  progress_.heater_power_mw = oracle_.HeaterPowerMw(FullPhases(params_));
  power_sum_mw_ += progress_.heater_power_mw;
  progress_.mean_heater_power_mw = power_sum_mw_ / static_cast<double>(progress_.step);
  const bool last_step = progress_.step >= options_.max_steps;
  const bool out_of_queries = options_.max_loss_evaluations > 0 &&
                              progress_.loss_evaluations >= options_.max_loss_evaluations;
  if ((options_.eval_every > 0 && progress_.step % options_.eval_every == 0) || last_step ||
      out_of_queries) {
    absl::StatusOr<double> accuracy = Evaluate(test_, options_.eval_samples);
    if (!accuracy.ok()) return accuracy.status();
    progress_.test_accuracy = *accuracy;
    if (options_.target_accuracy > 0 && *accuracy >= options_.target_accuracy) {
      stop_reason_ = StopReason::kTargetAccuracy;
    }
  }
  if (stop_reason_ == StopReason::kNone && out_of_queries) stop_reason_ = StopReason::kQueryBudget;
  if (stop_reason_ == StopReason::kNone && last_step) stop_reason_ = StopReason::kMaxSteps;
  progress_.cost = oracle_.cost();
  return progress_;
}

absl::StatusOr<double> TrainingRun::Evaluate(const Dataset& data, int samples) {
  const int count = samples > 0 ? std::min(samples, data.size()) : data.size();
  if (absl::Status s = oracle_.SetPhases(FullPhases(params_)); !s.ok()) return s;
  absl::StatusOr<Eigen::MatrixXd> logits = network_.Forward(oracle_, data.features.topRows(count));
  if (!logits.ok()) return logits.status();
  return Accuracy(*logits, std::vector<int>(data.labels.begin(), data.labels.begin() + count));
}

RunCheckpoint TrainingRun::Save() const {
  RunCheckpoint checkpoint;
  checkpoint.progress = progress_;
  checkpoint.params = params_;
  checkpoint.base_phases_rad = FullPhases(params_);
  checkpoint.optimizer_state = optimizer_->SaveState();
  checkpoint.chip_network_state = network_.SaveState();
  checkpoint.power_sum_mw = power_sum_mw_;
  return checkpoint;
}

absl::Status TrainingRun::Restore(const RunCheckpoint& checkpoint) {
  if (static_cast<int>(checkpoint.base_phases_rad.size()) != oracle_.layout().phase_count ||
      checkpoint.params.size() != network_.trainable_phases().size()) {
    return absl::DataLossError("the checkpoint does not fit the chip");
  }
  if (!optimizer_->StateFits(checkpoint.optimizer_state, checkpoint.params.size())) {
    return absl::DataLossError("the checkpoint's optimizer state does not fit the optimizer");
  }
  if (absl::Status s = network_.RestoreState(checkpoint.chip_network_state); !s.ok()) return s;
  progress_ = checkpoint.progress;
  params_ = checkpoint.params;
  base_phases_ = checkpoint.base_phases_rad;
  power_sum_mw_ = checkpoint.power_sum_mw;
  optimizer_->RestoreState(checkpoint.optimizer_state);
  stop_reason_ = StopReason::kNone;
  return absl::OkStatus();
}

}  // namespace phc::trainers
