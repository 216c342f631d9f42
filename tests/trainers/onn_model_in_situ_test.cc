// PAT and DAT on a deployed model (onn/model_in_situ.h): the error
// prediction's fit, its backward pass and the corrected model's gradient
// against finite differences; on a chip whose outputs are mixed by a known
// matrix, DAT's fitted predictions are that matrix and its gradient is the
// chip's own, where PAT's is not; state round trips; bad options.
#include <gtest/gtest.h>

#include <random>

#include "phc/base/check.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/model_in_situ.h"
#include "tests/forwarding_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::ModelSpec;

Eigen::MatrixXd Gaussian(int rows, int cols, std::mt19937_64& rng, double std = 1.0) {
  std::normal_distribution<double> g(0.0, std);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

// The correction the test draws: C and b, applied as y (I + C)^T + b.
LayerCorrection Drawn(int channels, int positions, std::mt19937_64& rng) {
  LayerCorrection truth(channels, positions);
  const Eigen::MatrixXd y = Gaussian(50, channels * positions, rng);
  const Eigen::MatrixXd c = Gaussian(channels, channels, rng, 0.2);
  const Eigen::VectorXd b = Gaussian(channels, 1, rng, 0.1);
  Eigen::MatrixXd measured(y.rows(), y.cols());
  for (Eigen::Index n = 0; n < y.rows(); ++n) {
    for (int p = 0; p < positions; ++p) {
      Eigen::VectorXd v(channels);
      for (int k = 0; k < channels; ++k) v(k) = y(n, k * positions + p);
      const Eigen::VectorXd out = v + c * v + b;
      for (int k = 0; k < channels; ++k) measured(n, k * positions + p) = out(k);
    }
  }
  truth.Fit(y, measured, 1.0, 1e-12);
  PHC_CHECK((truth.mixing() - c).cwiseAbs().maxCoeff() < 1e-8);
  PHC_CHECK((truth.offset() - b).cwiseAbs().maxCoeff() < 1e-8);
  return truth;
}

TEST(LayerCorrectionTest, FitRecoversAnAffineMixingOverChannelsAtEveryPosition) {
  std::mt19937_64 rng(1);
  // Drawn() checks the recovered C and b to 1e-8; here: the prediction then
  // matches what it was fitted to, and a saved state predicts the same.
  const LayerCorrection fitted = Drawn(4, 3, rng);
  const Eigen::MatrixXd y = Gaussian(7, 12, rng);
  LayerCorrection restored(4, 3);
  ASSERT_TRUE(restored.Restore(fitted.Save()).ok());
  EXPECT_LT((restored.Apply(y) - fitted.Apply(y)).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_EQ(restored.Restore(std::vector<double>(3, 0.0)).code(),
            absl::StatusCode::kInvalidArgument);
  // Unfitted, it is the identity.
  EXPECT_EQ(LayerCorrection(4, 3).Apply(y), y);
}

TEST(LayerCorrectionTest, BackwardIsTheTransposeOfApply) {
  std::mt19937_64 rng(2);
  const LayerCorrection c = Drawn(3, 5, rng);
  const Eigen::MatrixXd y = Gaussian(4, 15, rng);
  const Eigen::MatrixXd weights = Gaussian(4, 15, rng);  // L = sum(weights .* Apply(y))
  const Eigen::MatrixXd analytic = c.Backward(weights);
  const double h = 1e-6;
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    Eigen::MatrixXd up = y, down = y;
    up.data()[i] += h;
    down.data()[i] -= h;
    const double numeric =
        (weights.cwiseProduct(c.Apply(up)).sum() - weights.cwiseProduct(c.Apply(down)).sum()) /
        (2 * h);
    EXPECT_NEAR(analytic.data()[i], numeric, 1e-8) << "element " << i;
  }
}

ModelSpec SmallConvNet() {
  ModelSpec spec;
  spec.set_name("small_conv");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  auto* conv = spec.add_layers()->mutable_conv();
  conv->set_channels(4);
  conv->set_kernel(3);
  conv->set_stride(2);
  conv->set_padding(1);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

// Every parameter (phases and gains of the convolution's kernel and of the
// linear layer) of a model with a correction after each optical layer, to
// 1e-6 of the largest gradient.
TEST(ModelInSituTest, CorrectedGradientMatchesCentralDifferences) {
  absl::StatusOr<Model> model = Model::Build(SmallConvNet(), Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok()) << model.status();
  std::mt19937_64 rng(3);
  // The convolution: 4 channels at 2 x 2 positions; the readout: 3 outputs.
  const std::vector<LayerCorrection> corrections{Drawn(4, 4, rng), Drawn(3, 1, rng)};
  const Dataset data = MakeClusters(12, 16, 3, 0.3, 4);
  auto loss = [&] {
    return CorrectedLossAndGradients(*model, corrections, data.features, data.labels);
  };
  loss();
  const Eigen::VectorXd analytic = model->Gradients();
  const Eigen::VectorXd theta = model->Parameters();
  ASSERT_GT(analytic.size(), 20);
  const double h = 1e-6;
  const double scale = analytic.cwiseAbs().maxCoeff();
  ASSERT_GT(scale, 1e-4);
  for (Eigen::Index i = 0; i < theta.size(); ++i) {
    Eigen::VectorXd p = theta;
    p(i) += h;
    model->SetParameters(p);
    const double up = loss();
    p(i) -= 2 * h;
    model->SetParameters(p);
    const double down = loss();
    EXPECT_NEAR(analytic(i), (up - down) / (2 * h), 1e-6 * scale) << "parameter " << i;
  }
}

// The ideal chip with every circuit's outputs mixed by one fixed matrix:
// readings D r. On a layer whose widths are multiples of the core size, the
// chip computes exactly the model followed by y (I + C)^T, C = D - I per
// block of core_size outputs.
class MixingChip final : public testing::ForwardingOracle {
 public:
  MixingChip(const photonic::v1::ChipDescription& chip, Eigen::MatrixXd mixing)
      : ForwardingOracle(chip), mixing_(std::move(mixing)) {}
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    absl::StatusOr<std::vector<double>> readings = ideal_.Query(amplitudes);
    if (!readings.ok()) return readings;
    for (const photonsim::CircuitLayout& circuit : layout().circuits) {
      Eigen::Map<Eigen::VectorXd> out(readings->data() + circuit.first_output,
                                      circuit.output_count);
      const Eigen::VectorXd mixed = mixing_ * out;
      out = mixed;
    }
    return readings;
  }

 private:
  Eigen::MatrixXd mixing_;
};

ModelSpec SmallMlp() {
  ModelSpec spec;
  spec.set_name("small_mlp");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(4);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(12);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  spec.add_layers()->mutable_linear()->set_outputs(4);
  return spec;
}

struct MixedDeployment {
  Model model;
  ChipPlacement placement;
  MixingChip chip;
  std::vector<LayerCorrection> truth;  // C = blockdiag(D) - I per optical layer
};

MixedDeployment DeployOnMixingChip(const Eigen::MatrixXd& d) {
  absl::StatusOr<Model> model = Model::Build(SmallMlp(), Realisation::kOptical, 5);
  PHC_CHECK(model.ok());
  const photonic::v1::ChipDescription description =
      ChipForModel(*model, testing::ModelInstruments(1e6));
  absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, description);
  PHC_CHECK(placement.ok());
  MixedDeployment m{*std::move(model), *std::move(placement), MixingChip(description, d), {}};
  const photonsim::ChipLayout& layout = m.chip.layout();
  PHC_CHECK(m.chip
                .SetPhases(DeployedPhases(m.model, layout, m.placement,
                                          std::vector<double>(layout.phase_count, 0.0)))
                .ok());
  // The true corrections, fitted exactly (noise-free) to y and y D^T.
  for (const int width : {12, 4}) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(width));
    const Eigen::MatrixXd y = Gaussian(40, width, rng);
    Eigen::MatrixXd measured = y;
    for (int b = 0; b < width; b += 4)
      measured.middleCols(b, 4) = y.middleCols(b, 4) * d.transpose();
    LayerCorrection c(width, 1);
    c.Fit(y, measured, 1.0, 1e-12);
    m.truth.push_back(std::move(c));
  }
  return m;
}

TEST(ModelInSituTest, DatFitsTheChipsMixingAndFollowsTheChipsGradientWherePatDoesNot) {
  std::mt19937_64 rng(6);
  const Eigen::MatrixXd d = Eigen::MatrixXd::Identity(4, 4) + Gaussian(4, 4, rng, 0.3);
  const Dataset data = MakeClusters(40, 16, 4, 0.3, 7);

  MixedDeployment dat = DeployOnMixingChip(d);
  // The chip's own loss gradient: the model with the true corrections.
  const double chip_loss =
      CorrectedLossAndGradients(dat.model, dat.truth, data.features, data.labels);
  const Eigen::VectorXd chip_gradient = dat.model.Gradients();

  ModelInSituTrainer trainer(dat.model, dat.placement, dat.chip,
                             {.method = InSituMethod::kDat, .warmup_steps = 0, .ridge = 1e-12});
  absl::StatusOr<ModelInSituStep> step = trainer.Step(data.features, data.labels);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_TRUE(step->predictions_used);
  EXPECT_NEAR(step->loss, chip_loss, 1e-9);
  ASSERT_EQ(step->similarity_before.size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_GT(step->similarity_before[l], 1e-3) << "layer " << l;
    EXPECT_LT(step->similarity_after[l], 1e-18) << "layer " << l;
    EXPECT_LT((trainer.corrections()[l].mixing() - dat.truth[l].mixing()).cwiseAbs().maxCoeff(),
              1e-6)
        << "layer " << l;
  }
  const Eigen::VectorXd dat_gradient = dat.model.Gradients();
  EXPECT_LT((dat_gradient - chip_gradient).norm(), 1e-6 * chip_gradient.norm());

  MixedDeployment pat = DeployOnMixingChip(d);
  ModelInSituTrainer pat_trainer(pat.model, pat.placement, pat.chip, {});
  ASSERT_TRUE(pat_trainer.Step(data.features, data.labels).ok());
  EXPECT_TRUE(pat_trainer.corrections().empty());
  EXPECT_GT((pat.model.Gradients() - chip_gradient).norm(), 0.1 * chip_gradient.norm());
}

TEST(ModelInSituTest, WarmupKeepsDatsBackwardPassPatsAndStateRoundTrips) {
  std::mt19937_64 rng(8);
  const Eigen::MatrixXd d = Eigen::MatrixXd::Identity(4, 4) + Gaussian(4, 4, rng, 0.3);
  const Dataset data = MakeClusters(40, 16, 4, 0.3, 9);
  MixedDeployment a = DeployOnMixingChip(d);
  MixedDeployment b = DeployOnMixingChip(d);
  ModelInSituTrainer dat(a.model, a.placement, a.chip,
                         {.method = InSituMethod::kDat, .warmup_steps = 2});
  ModelInSituTrainer pat(b.model, b.placement, b.chip, {});
  for (int s = 0; s < 2; ++s) {
    absl::StatusOr<ModelInSituStep> step = dat.Step(data.features, data.labels);
    ASSERT_TRUE(step.ok());
    EXPECT_FALSE(step->predictions_used);
    ASSERT_TRUE(pat.Step(data.features, data.labels).ok());
    EXPECT_EQ(a.model.Parameters(), b.model.Parameters()) << "step " << s;
    ASSERT_TRUE(
        a.chip
            .SetPhases(DeployedPhases(a.model, a.chip.layout(), a.placement,
                                      std::vector<double>(a.chip.layout().phase_count, 0.0)))
            .ok());
    ASSERT_TRUE(
        b.chip
            .SetPhases(DeployedPhases(b.model, b.chip.layout(), b.placement,
                                      std::vector<double>(b.chip.layout().phase_count, 0.0)))
            .ok());
  }
  absl::StatusOr<ModelInSituStep> third = dat.Step(data.features, data.labels);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->predictions_used);

  ModelInSituTrainer restored(b.model, b.placement, b.chip,
                              {.method = InSituMethod::kDat, .warmup_steps = 2});
  ASSERT_TRUE(restored.RestoreState(dat.SaveState()).ok());
  EXPECT_EQ(restored.SaveState(), dat.SaveState());
  EXPECT_EQ(restored.steps(), 3);
  EXPECT_EQ(restored.RestoreState(pat.SaveState()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(restored.SaveState(), dat.SaveState());  // a refused state changes nothing
}

TEST(ModelInSituTest, BadInputIsRefusedAndChangesNothing) {
  EXPECT_EQ(ValidateModelInSituOptions({.learning_rate = 0.0}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateModelInSituOptions({.warmup_steps = -1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateModelInSituOptions({.forgetting = 1.5}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateModelInSituOptions({.ridge = 0.0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateModelInSituOptions({}).ok());

  MixedDeployment m = DeployOnMixingChip(Eigen::MatrixXd::Identity(4, 4));
  ModelInSituTrainer trainer(m.model, m.placement, m.chip, {.method = InSituMethod::kDat});
  const Dataset data = MakeClusters(10, 16, 4, 0.3, 1);
  const Eigen::VectorXd before = m.model.Parameters();
  EXPECT_EQ(trainer.Step(data.features, {data.labels.data(), 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer.Step(data.features.leftCols(5), data.labels).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.model.Parameters(), before);
  EXPECT_EQ(trainer.steps(), 0);
}

}  // namespace
}  // namespace phc::trainers::onn
