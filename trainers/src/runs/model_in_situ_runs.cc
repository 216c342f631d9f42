// pat and dat from a deployed model (from_model): each step measures a
// minibatch's forward pass on the chip layer by layer and takes an Adam
// step on the model's parameters (onn/model_in_situ.h), written to the
// model's cores; dat also fits its error predictions to the same
// measurements. Checkpoints keep the parameters, Adam and the predictions.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "deployed_model_run.h"
#include "phc/trainers/onn/model_in_situ.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

constexpr double kDefaultLearningRate = 1e-3;
constexpr int kDefaultWarmupSteps = 10;

onn::ModelInSituOptions OptionsFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  return {.method = a.name() == "dat" ? onn::InSituMethod::kDat : onn::InSituMethod::kPat,
          .learning_rate = a.learning_rate() > 0.0 ? a.learning_rate() : kDefaultLearningRate,
          // Beyond any run's length, a huge warm-up means "never": clamped.
          .warmup_steps = a.prediction_warmup_steps() > 0
                              ? static_cast<int>(std::min<std::int64_t>(
                                    a.prediction_warmup_steps(), std::numeric_limits<int>::max()))
                              : kDefaultWarmupSteps};
}

class ModelInSituRun final : public DeployedModelRun {
 public:
  ModelInSituRun(ChipModel chip_model, ChipOracle& oracle, std::vector<double> base_phases,
                 const TrainTestSplit& data, const SessionConfig& config)
      : DeployedModelRun(std::move(chip_model), oracle, std::move(base_phases), data, config),
        trainer_(model_, placement_, oracle_, OptionsFrom(config)) {}

  absl::StatusOr<TrainingProgress> Step() override {
    if (done()) return progress();
    const Dataset batch = Minibatch();
    const Eigen::VectorXd before = model_.Parameters();
    absl::StatusOr<onn::ModelInSituStep> step = trainer_.Step(batch.features, batch.labels);
    if (!step.ok()) return step.status();
    // A step PowerGuard refuses is taken back (Adam's moments keep it).
    if (absl::Status s = DeployOrTakeBack(before); !s.ok()) return s;
    return FinishStep(step->loss, 1);
  }

  RunCheckpoint Save() const override { return CheckpointWith(trainer_.SaveState()); }
  absl::Status Restore(const RunCheckpoint& checkpoint) override {
    return RestoreAndDeploy(
        checkpoint, [this](std::span<const double> state) { return trainer_.RestoreState(state); });
  }

 private:
  onn::ModelInSituTrainer trainer_;  // refers to model_, placement_ and oracle_
};

}  // namespace

absl::Status ValidateInSituFromModel(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  if (c.widths_size() > 0 || c.first_circuit() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("widths, first_circuit: a ", a.name(),
                                                   " session from a model runs on its cores; "
                                                   "leave them unset"));
  }
  if (a.pretrain_epochs() > 0) {
    return absl::InvalidArgumentError(
        "pretrain_epochs: a session from a model does not pretrain (the model was trained in "
        "silico before it was deployed)");
  }
  if (a.has_prediction_learning_rate()) {
    return absl::InvalidArgumentError(
        "prediction_learning_rate: from a model, dat fits its error predictions in closed form");
  }
  if (a.name() == "pat" && a.prediction_warmup_steps() > 0) {
    return absl::InvalidArgumentError("prediction_warmup_steps: pat has no error predictions");
  }
  if (a.learning_rate() < 0.0 || a.prediction_warmup_steps() < 0) {
    return absl::InvalidArgumentError(
        "learning_rate and prediction_warmup_steps must not be negative");
  }
  if (absl::Status s = onn::ValidateModelInSituOptions(OptionsFrom(c)); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", s.message()));
  }
  if (c.batch_size() < 1) return absl::InvalidArgumentError("batch_size must be >= 1");
  if (c.power_budget_mw() > 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "power_budget_mw: ", a.name(),
        " takes no power budget of its own (the chip's PowerGuard limits still hold: a step "
        "over them is taken back)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> CreateInSituFromModel(const SessionConfig& c, RunChip& chip,
                                                 const RunOptions& options) {
  RunResources resources;
  // A resumed run writes its checkpoint's parameters to the model's cores
  // before it measures anything.
  absl::StatusOr<ChipModel> placed = LoadFromModel(c, chip, options, resources);
  if (!placed.ok()) return placed.status();
  chip.StartAccounting();
  const int trained = placed->model.parameter_count();
  auto run = std::make_unique<ModelInSituRun>(*std::move(placed), chip.oracle(), chip.phases_rad(),
                                              *resources.data, c);
  ModelInSituRun* in_situ = run.get();
  return Started(std::move(resources), std::move(run), &chip, trained, options,
                 [in_situ] { return in_situ->Evaluate(); });
}

}  // namespace phc::trainers::runs
