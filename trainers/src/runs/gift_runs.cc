// gift: a deployed model (from_model) adapted in situ by GIFT (onn/gift.h).
// The run measures the chip's noise structure once, at its start, then
// takes checked steps on the expected loss under it; each applied step is
// written to the model's cores. A checkpoint keeps the measured structure,
// so a resumed run does not measure again.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "deployed_model_run.h"
#include "phc/trainers/onn/gift.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

constexpr int kDefaultDraws = 4;
constexpr double kDefaultLearningRate = 1e-3;
constexpr int kProbeSamples = 256;

onn::GiftOptions GiftOptionsFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  return {.draws = a.samples_per_step() > 0 ? a.samples_per_step() : kDefaultDraws,
          .learning_rate = a.learning_rate() > 0.0 ? a.learning_rate() : kDefaultLearningRate,
          .seed = c.seed()};
}

// The noise structure in a checkpoint: (layer, phase std) pairs.
std::vector<double> SaveNoise(const onn::NoiseStructure& noise) {
  std::vector<double> state;
  for (const onn::LayerNoise& l : noise.layers) {
    state.push_back(static_cast<double>(l.layer));
    state.push_back(l.phase_std_rad);
  }
  return state;
}

absl::StatusOr<onn::NoiseStructure> RestoreNoise(const onn::Model& model,
                                                 std::span<const double> state) {
  onn::NoiseStructure noise;
  if (state.empty() || state.size() % 2 != 0) {
    return absl::DataLossError("gift checkpoint: no noise structure");
  }
  for (std::size_t i = 0; i < state.size(); i += 2) {
    const auto layer = static_cast<std::size_t>(state[i]);
    if (layer >= model.layers().size() || onn::OpticalMap(*model.layers()[layer]) == nullptr ||
        !(state[i + 1] >= 0.0)) {
      return absl::DataLossError("gift checkpoint: its noise structure does not fit the model");
    }
    noise.layers.push_back({.layer = layer, .phase_std_rad = state[i + 1]});
  }
  return noise;
}

class GiftRun final : public DeployedModelRun {
 public:
  GiftRun(ChipModel chip_model, ChipOracle& oracle, std::vector<double> base_phases,
          const TrainTestSplit& data, const SessionConfig& config, onn::NoiseStructure noise)
      : DeployedModelRun(std::move(chip_model), oracle, std::move(base_phases), data, config),
        gift_(model_, std::move(noise), GiftOptionsFrom(config)) {}

  absl::StatusOr<TrainingProgress> Step() override {
    if (done()) return progress();
    const Dataset batch = Minibatch();
    const Eigen::VectorXd before = model_.Parameters();
    const onn::GiftStep step = gift_.Step(batch.features, batch.labels);
    // A step PowerGuard refuses is taken back and the run goes on.
    if (step.applied) {
      if (absl::Status s = DeployOrTakeBack(before); !s.ok()) return s;
    }
    return FinishStep(step.loss_after, step.draws);
  }

  RunCheckpoint Save() const override {
    RunCheckpoint checkpoint = CheckpointWith(gift_.SaveState());
    checkpoint.chip_network_state = SaveNoise(gift_.noise());
    return checkpoint;
  }
  absl::Status Restore(const RunCheckpoint& checkpoint) override {
    return RestoreAndDeploy(
        checkpoint, [this](std::span<const double> state) { return gift_.RestoreState(state); });
  }

 private:
  onn::GiftTrainer gift_;
};

}  // namespace

absl::Status ValidateGift(const SessionConfig& c, const photonic::v1::ChipDescription& /*chip*/,
                          const photonsim::ChipLayout& /*layout*/) {
  if (c.from_model().empty()) {
    return absl::InvalidArgumentError(
        "from_model: gift adapts a deployed model; name the model (photonctl models deploy)");
  }
  if (c.widths_size() > 0 || c.first_circuit() != 0) {
    return absl::InvalidArgumentError(
        "widths, first_circuit: a gift session runs on the model's cores; leave them unset");
  }
  if (absl::Status s = onn::ValidateGiftOptions(GiftOptionsFrom(c)); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm (samples_per_step: noise draws, learning_rate): ", s.message()));
  }
  if (c.batch_size() < 1) return absl::InvalidArgumentError("batch_size must be >= 1");
  if (c.power_budget_mw() > 0.0) {
    return absl::InvalidArgumentError(
        "power_budget_mw: gift takes no power budget of its own (the chip's PowerGuard limits "
        "still hold: a step over them is taken back)");
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> CreateGift(const SessionConfig& c, RunChip& chip,
                                      const RunOptions& options) {
  RunResources resources;
  absl::StatusOr<ChipModel> placed = LoadFromModel(c, chip, options, resources);
  if (!placed.ok()) return placed.status();
  onn::NoiseStructure noise;
  if (options.resume_from != nullptr) {
    absl::StatusOr<onn::NoiseStructure> restored =
        RestoreNoise(placed->model, options.resume_from->chip_network_state);
    if (!restored.ok()) return restored.status();
    noise = *std::move(restored);
  }
  chip.StartAccounting();
  if (options.resume_from == nullptr) {
    const Dataset& train = resources.data->train;
    absl::StatusOr<onn::NoiseStructure> measured = onn::EstimateNoiseStructure(
        placed->model, placed->placement, chip.oracle(),
        train.features.topRows(std::min(kProbeSamples, train.size())), {.seed = c.seed()});
    if (!measured.ok()) return measured.status();
    std::string sigmas;
    for (const onn::LayerNoise& l : measured->layers) {
      absl::StrAppend(&sigmas, sigmas.empty() ? "" : ", ", "layer ", l.layer, ": ", l.phase_std_rad,
                      " rad");
    }
    Note(options, absl::StrCat("noise structure measured (", measured->queries,
                               " chip queries): phase noise ", sigmas));
    noise = *std::move(measured);
  }
  const int trained = placed->model.parameter_count();
  auto run = std::make_unique<GiftRun>(*std::move(placed), chip.oracle(), chip.phases_rad(),
                                       *resources.data, c, std::move(noise));
  GiftRun* gift = run.get();
  return Started(std::move(resources), std::move(run), &chip, trained, options,
                 [gift] { return gift->Evaluate(); });
}

}  // namespace phc::trainers::runs
