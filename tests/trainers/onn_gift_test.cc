// GIFT (our construction from the abstract, onn/gift.h) and the chip-forward
// gradient it is compared with (physics-aware training): on the ideal chip
// the measured gradient is the model's; the noise estimate recovers a
// known static phase error and separates readout noise; GIFT's checked
// steps lower the expected loss and a refused step changes nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "phc/base/check.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/layers.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/gift.h"
#include "photonsim/chip_layout.h"
#include "tests/forwarding_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::ModelSpec;

constexpr int kFeatures = 16;
constexpr int kClasses = 3;

ModelSpec SmallMlp() {
  ModelSpec spec;
  spec.set_name("small_mlp");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(kClasses);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(12);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  spec.add_layers()->mutable_linear()->set_outputs(kClasses);
  return spec;
}

// The ideal chip with a fixed Gaussian error on every deployed phase, and
// optionally Gaussian noise on every reading.
class ErroneousChip final : public testing::ForwardingOracle {
 public:
  ErroneousChip(const photonic::v1::ChipDescription& chip, double phase_error_rad,
                double reading_noise_mw, std::uint64_t seed)
      : ForwardingOracle(chip),
        phase_error_rad_(phase_error_rad),
        reading_noise_mw_(reading_noise_mw),
        rng_(seed) {
    std::normal_distribution<double> error(0.0, phase_error_rad_);
    for (int p = 0; p < ideal_.layout().phase_count; ++p) errors_.push_back(error(rng_));
  }
  absl::Status SetPhases(std::span<const double> phases_rad) override {
    std::vector<double> actual(phases_rad.begin(), phases_rad.end());
    for (std::size_t p = 0; p < actual.size(); ++p) actual[p] += errors_[p];
    return ideal_.SetPhases(actual);
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    absl::StatusOr<std::vector<double>> readings = ideal_.Query(amplitudes);
    if (!readings.ok() || reading_noise_mw_ == 0.0) return readings;
    std::normal_distribution<double> noise(0.0, reading_noise_mw_);
    for (double& r : *readings) r += noise(rng_);
    return readings;
  }

 private:
  double phase_error_rad_;
  double reading_noise_mw_;
  std::mt19937_64 rng_;
  std::vector<double> errors_;
};

struct Deployed {
  Model model;
  photonic::v1::ChipDescription chip;
  ChipPlacement placement;
};

Deployed Deploy(std::uint64_t seed) {
  absl::StatusOr<Model> model = Model::Build(SmallMlp(), Realisation::kOptical, seed);
  PHC_CHECK(model.ok());
  photonic::v1::ChipDescription chip = ChipForModel(*model, testing::ModelInstruments(1e6));
  absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  PHC_CHECK(placement.ok());
  return {*std::move(model), chip, *std::move(placement)};
}

void Program(Deployed& d, ChipOracle& chip) {
  const photonsim::ChipLayout& layout = chip.layout();
  ASSERT_TRUE(chip.SetPhases(DeployedPhases(d.model, layout, d.placement,
                                            std::vector<double>(layout.phase_count, 0.0)))
                  .ok());
}

TEST(PhysicsAwareGradientTest, OnTheIdealChipItIsTheModelsGradient) {
  Deployed d = Deploy(1);
  ModelOracle oracle(d.chip);
  Program(d, oracle);
  const Dataset data = MakeClusters(20, kFeatures, kClasses, 0.3, 2);
  const double expected_loss = d.model.LossAndGradients(data.features, data.labels);
  const Eigen::VectorXd expected = d.model.Gradients();
  const absl::StatusOr<double> loss =
      ChipLossAndGradients(d.model, d.placement, oracle, data.features, data.labels);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, expected_loss, 1e-9);
  EXPECT_LT((d.model.Gradients() - expected).cwiseAbs().maxCoeff(),
            1e-9 * expected.cwiseAbs().maxCoeff());
  // One query per sample and optical layer.
  EXPECT_EQ(oracle.cost().queries, 20 * 2);
}

TEST(PhysicsAwareGradientTest, ItDiffersFromTheModelsOnAnErroneousChip) {
  Deployed d = Deploy(1);
  ErroneousChip chip(d.chip, 0.2, 0.0, 5);
  Program(d, chip);
  const Dataset data = MakeClusters(20, kFeatures, kClasses, 0.3, 2);
  d.model.LossAndGradients(data.features, data.labels);
  const Eigen::VectorXd in_silico = d.model.Gradients();
  ASSERT_TRUE(ChipLossAndGradients(d.model, d.placement, chip, data.features, data.labels).ok());
  EXPECT_GT((d.model.Gradients() - in_silico).norm(), 0.05 * in_silico.norm());
  EXPECT_EQ(ChipLossAndGradients(d.model, d.placement, chip, data.features, {data.labels.data(), 3})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Over several chips, the estimated phase noise of each layer is the
// standard deviation of the errors drawn. A single chip's estimate carries
// the sampling error of its phases (96 in the last layer: 25 % scatter), so
// the mean over 40 chips is held to 15 %. Few Monte Carlo draws bias the
// estimate up (1 / predicted deviation is convex): 16 draws gave +16 % on
// the last layer, 128 give +6 %.
TEST(NoiseStructureTest, RecoversAKnownStaticPhaseErrorLayerByLayer) {
  constexpr double kSigma = 0.05;
  const Dataset probe = MakeClusters(64, kFeatures, kClasses, 0.3, 3);
  double sums[2] = {0.0, 0.0};
  constexpr int kChips = 40;
  for (int c = 0; c < kChips; ++c) {
    Deployed d = Deploy(1);
    ErroneousChip chip(d.chip, kSigma, 0.0, 100 + c);
    Program(d, chip);
    const absl::StatusOr<NoiseStructure> noise = EstimateNoiseStructure(
        d.model, d.placement, chip, probe.features, {.repeats = 2, .draws = 128, .seed = 7});
    ASSERT_TRUE(noise.ok()) << noise.status();
    ASSERT_EQ(noise->layers.size(), 2u);
    EXPECT_EQ(noise->layers[0].layer, 0u);
    EXPECT_EQ(noise->layers[1].layer, 2u);
    EXPECT_EQ(noise->queries, 2 * 2 * 64);
    for (int l = 0; l < 2; ++l) {
      EXPECT_LT(noise->layers[l].readout_variance, 1e-20);  // the same reading twice
      sums[l] += noise->layers[l].phase_std_rad;
    }
  }
  for (double sum : sums) EXPECT_NEAR(sum / kChips, kSigma, 0.15 * kSigma);
}

TEST(NoiseStructureTest, ReadoutNoiseIsSeparatedFromThePhaseError) {
  const Dataset probe = MakeClusters(64, kFeatures, kClasses, 0.3, 3);
  Deployed exact = Deploy(1);
  ErroneousChip without(exact.chip, 0.05, 0.0, 100);
  Program(exact, without);
  const NoiseEstimationOptions options{.repeats = 8, .draws = 16, .seed = 7};
  absl::StatusOr<NoiseStructure> reference =
      EstimateNoiseStructure(exact.model, exact.placement, without, probe.features, options);
  ASSERT_TRUE(reference.ok());
  // The same chip with noisy readings: the readout variance shows, the phase
  // noise estimate stays within the repeats' sampling error (8 repeats).
  Deployed noisy = Deploy(1);
  ErroneousChip with(noisy.chip, 0.05, 0.02, 100);
  Program(noisy, with);
  absl::StatusOr<NoiseStructure> estimate =
      EstimateNoiseStructure(noisy.model, noisy.placement, with, probe.features, options);
  ASSERT_TRUE(estimate.ok());
  for (int l = 0; l < 2; ++l) {
    EXPECT_GT(estimate->layers[l].readout_variance, 1e-6);
    EXPECT_GT(estimate->layers[l].deviation_ms, reference->layers[l].deviation_ms);
    EXPECT_NEAR(estimate->layers[l].phase_std_rad, reference->layers[l].phase_std_rad,
                0.2 * reference->layers[l].phase_std_rad);
  }
}

TEST(NoiseStructureTest, BadOptionsAndProbesAreRefused) {
  Deployed d = Deploy(1);
  ModelOracle oracle(d.chip);
  Program(d, oracle);
  const Eigen::MatrixXd probe = Eigen::MatrixXd::Zero(4, kFeatures);
  EXPECT_EQ(
      EstimateNoiseStructure(d.model, d.placement, oracle, probe, {.repeats = 1}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EstimateNoiseStructure(d.model, d.placement, oracle, probe, {.probe_std_rad = 0.0})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EstimateNoiseStructure(d.model, d.placement, oracle,
                                   Eigen::MatrixXd::Zero(4, kFeatures + 1), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(oracle.cost().queries, 0);
}

double MeanNoisyLoss(Model& model, const Dataset& data, double sigma, int draws) {
  std::mt19937_64 rng(99);
  model.SetPhaseNoise(sigma, &rng);
  double total = 0.0;
  for (int d = 0; d < draws; ++d) {
    total += diff::SoftmaxCrossEntropy(model.Forward(data.features), data.labels, nullptr);
  }
  model.SetPhaseNoise(0.0, nullptr);
  return total / draws;
}

NoiseStructure UniformNoise(double sigma) {
  return {.layers = {{.layer = 0, .phase_std_rad = sigma}, {.layer = 2, .phase_std_rad = sigma}}};
}

TEST(GiftTrainerTest, CheckedStepsLowerTheExpectedLossUnderTheMeasuredNoise) {
  constexpr double kSigma = 0.3;
  Deployed d = Deploy(4);
  const Dataset data = MakeClusters(60, kFeatures, kClasses, 0.3, 6);
  const double before = MeanNoisyLoss(d.model, data, kSigma, 200);
  GiftTrainer gift(d.model, UniformNoise(kSigma), {.draws = 4, .learning_rate = 0.02, .seed = 3});
  int applied = 0;
  for (int s = 0; s < 40; ++s) {
    const GiftStep step = gift.Step(data.features, data.labels);
    if (step.applied) {
      ++applied;
      // Armijo: the same draws' loss fell.
      EXPECT_LT(step.loss_after, step.expected_loss);
      EXPECT_GT(step.step_scale, 0.0);
    } else {
      EXPECT_FALSE(step.refused_because.empty());
      EXPECT_EQ(step.loss_after, step.expected_loss);
    }
  }
  EXPECT_GT(applied, 20);
  const double after = MeanNoisyLoss(d.model, data, kSigma, 200);
  EXPECT_LT(after, 0.8 * before) << before << " -> " << after;
}

TEST(GiftTrainerTest, ARefusedStepChangesNothingAndDrawsMore) {
  Deployed d = Deploy(4);
  const Dataset data = MakeClusters(30, kFeatures, kClasses, 0.3, 6);
  const Eigen::VectorXd start = d.model.Parameters();
  GiftTrainer gift(d.model, UniformNoise(0.3), {.draws = 4, .signal_ratio = 1e30});
  const std::vector<double> state = gift.SaveState();
  const GiftStep step = gift.Step(data.features, data.labels);
  EXPECT_FALSE(step.applied);
  EXPECT_NE(step.refused_because.find("Monte Carlo error"), std::string::npos)
      << step.refused_because;
  EXPECT_EQ(d.model.Parameters(), start);
  EXPECT_EQ(gift.draws(), 8);
  // The optimizer state moved only in its draw count and tried steps.
  std::vector<double> after = gift.SaveState();
  EXPECT_EQ(after[1], 8.0);
  EXPECT_EQ(after[2], 1.0);
  after[1] = state[1];
  after[2] = state[2];
  EXPECT_EQ(after, state);
}

TEST(GiftTrainerTest, StateRoundTripsAndBadStateOrOptionsAreRefused) {
  Deployed d = Deploy(4);
  const Dataset data = MakeClusters(30, kFeatures, kClasses, 0.3, 6);
  GiftTrainer gift(d.model, UniformNoise(0.1), {.learning_rate = 0.01});
  gift.Step(data.features, data.labels);
  const std::vector<double> state = gift.SaveState();
  GiftTrainer other(d.model, UniformNoise(0.1), {.learning_rate = 0.01});
  ASSERT_TRUE(other.RestoreState(state).ok());
  EXPECT_EQ(other.SaveState(), state);
  EXPECT_EQ(other.RestoreState(std::vector<double>(4, 0.0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGiftOptions({.draws = 1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGiftOptions({.learning_rate = 0.0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGiftOptions({.armijo = 1.0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateGiftOptions({}).ok());
}

}  // namespace
}  // namespace phc::trainers::onn
