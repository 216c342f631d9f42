#include "deployed_model_run.h"

namespace phc::trainers::runs {

DeployedModelRun::DeployedModelRun(ChipModel chip_model, ChipOracle& oracle,
                                   std::vector<double> base_phases, const TrainTestSplit& data,
                                   const photonic::v1::SessionConfig& config)
    : model_(std::move(chip_model.model)),
      placement_(std::move(chip_model.placement)),
      oracle_(oracle),
      base_phases_(std::move(base_phases)),
      data_(data),
      config_(config),
      minibatches_(data.train, config.batch_size(), config.seed()) {}

absl::StatusOr<double> DeployedModelRun::Evaluate() {
  return ChipTestAccuracy(model_, placement_, oracle_, data_, config_);
}

absl::Status DeployedModelRun::Deploy() {
  return DeployModel(model_, placement_, oracle_, base_phases_);
}

absl::Status DeployedModelRun::DeployOrTakeBack(const Eigen::VectorXd& before) {
  absl::Status s = Deploy();
  if (absl::IsFailedPrecondition(s)) {
    model_.SetParameters(before);
    return absl::OkStatus();
  }
  return s;
}

absl::StatusOr<TrainingProgress> DeployedModelRun::FinishStep(double loss,
                                                              std::int64_t loss_evaluations) {
  ++progress_.step;
  progress_.loss = loss;
  progress_.loss_evaluations += loss_evaluations;
  if (absl::Status s = AfterModelStep(
          config_, [this] { return Evaluate(); }, progress_, stop_reason_);
      !s.ok()) {
    return s;
  }
  return progress_;
}

RunCheckpoint DeployedModelRun::CheckpointWith(std::vector<double> optimizer_state) const {
  const Eigen::VectorXd parameters = model_.Parameters();
  return ParameterCheckpoint(progress_, {parameters.data(), parameters.data() + parameters.size()},
                             std::move(optimizer_state));
}

absl::Status DeployedModelRun::RestoreAndDeploy(
    const RunCheckpoint& checkpoint,
    const std::function<absl::Status(std::span<const double>)>& restore_optimizer) {
  if (absl::Status s = RestoreModelRun(checkpoint, config_.algorithm().name(), config_, model_,
                                       restore_optimizer, progress_, stop_reason_);
      !s.ok()) {
    return s;
  }
  return Deploy();
}

}  // namespace phc::trainers::runs
