// The layers of the papers'-scale ONN models: the coherent SVD core against
// photonsim's SVD core, and every analytic gradient (core phases, blocked
// layers, convolution, ReLU, pooling, a whole model) against central finite
// differences. Central differences with step h = 1e-5 have error
// O(h^2 f''') ~ 1e-9 here, so analytic and numeric gradients must agree to
// 1e-6 relative to the largest gradient.
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <complex>
#include <functional>
#include <numbers>
#include <random>

#include "phc/trainers/onn/model.h"
#include "phc/trainers/onn/model_layers.h"
#include "phc/trainers/onn/svd_core.h"
#include "photonsim/svd_programming.h"

namespace phc::trainers::onn {
namespace {

constexpr double kStep = 1e-5;
constexpr double kRelativeTolerance = 1e-6;

std::vector<double> RandomPhases(int count, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::vector<double> phases(count);
  for (double& p : phases) p = phase(rng);
  return phases;
}

Eigen::MatrixXd RandomMatrix(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, 1.0);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = gauss(rng);
  return m;
}

// Central differences of `loss` over every entry of `values`.
std::vector<double> NumericGradient(std::span<double> values, const std::function<double()>& loss) {
  std::vector<double> gradient(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double kept = values[i];
    values[i] = kept + kStep;
    const double up = loss();
    values[i] = kept - kStep;
    const double down = loss();
    values[i] = kept;
    gradient[i] = (up - down) / (2 * kStep);
  }
  return gradient;
}

void ExpectGradientsAgree(std::span<const double> analytic, std::span<const double> numeric) {
  ASSERT_EQ(analytic.size(), numeric.size());
  double scale = 0.0;
  for (const double g : numeric) scale = std::max(scale, std::abs(g));
  ASSERT_GT(scale, 0.0);
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    EXPECT_NEAR(analytic[i], numeric[i], kRelativeTolerance * scale) << "entry " << i;
  }
}

TEST(SvdCoreTest, TransferIsPhotonsimsSvdCoreWithAnOutputPhaseScreen) {
  std::mt19937_64 rng(1);
  const int k = 6;
  SvdCore core(k);
  const std::vector<double> phases = RandomPhases(core.phase_count(), rng);
  core.Build(phases);
  const std::vector<double> svd_phases(phases.begin(), phases.end() - k);
  Eigen::VectorXcd screen(k);
  for (int m = 0; m < k; ++m) {
    screen(m) = std::complex<double>(0.0, -1.0) * std::polar(1.0, -phases[phases.size() - k + m]);
  }
  const photonsim::MatrixXc expected =
      screen.asDiagonal() * photonsim::SvdCoreTransfer(k, svd_phases);
  EXPECT_LT((core.Transfer() - expected).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(SvdCoreTest, AnIdealCoreIsAContraction) {
  // U and V unitary, attenuators |a| <= 1: every singular value of M is <= 1.
  std::mt19937_64 rng(2);
  SvdCore core(8);
  core.Build(RandomPhases(core.phase_count(), rng));
  const Eigen::JacobiSVD<photonsim::MatrixXc> svd(core.Transfer());
  EXPECT_LE(svd.singularValues()(0), 1.0 + 1e-12);
}

TEST(SvdCoreTest, PhaseGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(3);
  const int k = 5;
  SvdCore core(k);
  std::vector<double> phases = RandomPhases(core.phase_count(), rng);
  const Eigen::MatrixXd weight = RandomMatrix(k, k, rng);  // L = sum(weight .* Re M)
  core.Build(phases);
  std::vector<double> analytic(core.phase_count(), 0.0);
  core.Backward(weight, analytic);
  const std::vector<double> numeric =
      NumericGradient(phases, [&] { return core.Build(phases).cwiseProduct(weight).sum(); });
  ExpectGradientsAgree(analytic, numeric);
}

// L = sum(r .* layer(x)) for a fixed random r: checks parameter and input
// gradients of any layer.
void ExpectLayerGradientsAgree(ModelLayer& layer, Eigen::MatrixXd x, std::mt19937_64& rng) {
  const Eigen::MatrixXd r = RandomMatrix(static_cast<int>(x.rows()), layer.out_width(), rng);
  for (double& g : layer.gradients()) g = 0.0;
  layer.Forward(x);
  const Eigen::MatrixXd d_input = layer.Backward(r);
  const std::vector<double> analytic(layer.gradients().begin(), layer.gradients().end());
  const auto loss = [&] { return layer.Forward(x).cwiseProduct(r).sum(); };
  if (!layer.parameters().empty()) {
    SCOPED_TRACE("parameters");
    ExpectGradientsAgree(analytic, NumericGradient(layer.parameters(), loss));
  }
  SCOPED_TRACE("inputs");
  const std::vector<double> numeric_input =
      NumericGradient(std::span<double>(x.data(), x.size()), loss);
  ExpectGradientsAgree(std::span<const double>(d_input.data(), d_input.size()), numeric_input);
}

TEST(OpticalLinearTest, GradientsMatchFiniteDifferencesWithPartialBlocks) {
  std::mt19937_64 rng(4);
  OpticalLinear layer(/*inputs=*/7, /*outputs=*/5, /*k=*/4, rng);  // 2 x 2 blocks, cropped
  EXPECT_EQ(layer.blocks().size(), 4u);
  ExpectLayerGradientsAgree(layer, RandomMatrix(3, 7, rng), rng);
}

TEST(OpticalLinearTest, WeightsAreTheGainTimesTheCoresRealParts) {
  std::mt19937_64 rng(5);
  OpticalLinear layer(6, 3, 3, rng);
  const Eigen::MatrixXd w = layer.Weights();
  const std::span<double> p = layer.parameters();
  SvdCore core(3);
  const int per_core = SvdCore::PhaseCount(3);
  const Eigen::MatrixXd second_block =
      core.Build(std::span<const double>(p.data() + 1 + per_core, per_core));
  EXPECT_LT((w.block(0, 3, 3, 3) - p[0] * second_block).cwiseAbs().maxCoeff(), 1e-14);
  const Eigen::MatrixXd x = RandomMatrix(4, 6, rng);
  EXPECT_LT((layer.Forward(x) - x * w.transpose()).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(OpticalLinearTest, InitialGainGivesHeVariance) {
  std::mt19937_64 rng(6);
  OpticalLinear layer(64, 24, 8, rng);
  const Eigen::MatrixXd w = layer.Weights();
  // Mean square weight 2 / inputs by construction of the gain.
  EXPECT_NEAR(w.squaredNorm() / static_cast<double>(w.size()), 2.0 / 64, 1e-12);
}

TEST(OpticalLinearTest, PhaseNoisePerturbsTheForwardPassOnly) {
  std::mt19937_64 rng(7), noise(8);
  OpticalLinear layer(8, 8, 8, rng);
  const Eigen::MatrixXd x = RandomMatrix(2, 8, rng);
  const Eigen::MatrixXd clean = layer.Forward(x);
  layer.SetPhaseNoise(0.05, &noise);
  const Eigen::MatrixXd noisy = layer.Forward(x);
  layer.SetPhaseNoise(0.0, nullptr);
  EXPECT_GT((noisy - clean).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_LT((layer.Forward(x) - clean).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(Conv2dTest, MatchesADirectConvolution) {
  std::mt19937_64 rng(9);
  const ConvGeometry g{
      .in_channels = 2, .height = 7, .width = 6, .kernel = 3, .stride = 2, .padding = 1};
  auto kernel = std::make_unique<DigitalLinear>(g.patch_size(), 3, rng);
  const std::vector<double> w(kernel->parameters().begin(), kernel->parameters().end());
  Conv2d conv(g, std::move(kernel));
  const Eigen::MatrixXd x = RandomMatrix(2, conv.in_width(), rng);
  const Eigen::MatrixXd y = conv.Forward(x);
  const int oh = g.out_height(), ow = g.out_width();
  ASSERT_EQ(oh, 4);
  ASSERT_EQ(ow, 3);
  for (int b = 0; b < 2; ++b) {
    for (int co = 0; co < 3; ++co) {
      for (int oy = 0; oy < oh; ++oy) {
        for (int ox = 0; ox < ow; ++ox) {
          double sum = 0.0;
          for (int c = 0; c < 2; ++c) {
            for (int ky = 0; ky < 3; ++ky) {
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = oy * 2 + ky - 1, ix = ox * 2 + kx - 1;
                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                const int column = c * 9 + ky * 3 + kx;
                sum += w[column * 3 + co] * x(b, (c * 7 + iy) * 6 + ix);  // W column-major 3 x 18
              }
            }
          }
          EXPECT_NEAR(y(b, (co * oh + oy) * ow + ox), sum, 1e-12);
        }
      }
    }
  }
}

TEST(Conv2dTest, OpticalConvolutionGradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(10);
  const ConvGeometry g{
      .in_channels = 1, .height = 5, .width = 5, .kernel = 2, .stride = 1, .padding = 0};
  Conv2d conv(g, std::make_unique<OpticalLinear>(g.patch_size(), 3, 4, rng));
  ExpectLayerGradientsAgree(conv, RandomMatrix(2, conv.in_width(), rng), rng);
}

TEST(ElectronicLayersTest, ClippedReluAndPoolGradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(11);
  ClippedRelu relu(12, 0.8);
  // Keep inputs away from the kinks at 0 and 0.8, where differences are not smooth.
  Eigen::MatrixXd x = RandomMatrix(3, 12, rng);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    double& v = x.data()[i];
    if (std::abs(v) < 0.01 || std::abs(v - 0.8) < 0.01) v += 0.05;
  }
  {
    SCOPED_TRACE("relu");
    ExpectLayerGradientsAgree(relu, x, rng);
  }
  const Eigen::MatrixXd y = relu.Forward(x);
  EXPECT_EQ(y.maxCoeff(), 0.8);
  EXPECT_EQ(y.minCoeff(), 0.0);
  AvgPool pool(2, 4, 5, 2);  // 5 columns: the last is dropped
  EXPECT_EQ(pool.out_width(), 2 * 2 * 2);
  SCOPED_TRACE("pool");
  ExpectLayerGradientsAgree(pool, RandomMatrix(2, pool.in_width(), rng), rng);
}

TEST(ModelGradientTest, AWholeOpticalCnnMatchesFiniteDifferences) {
  photonic::v1::ModelSpec spec;
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(6);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  auto* conv = spec.add_layers()->mutable_conv();
  conv->set_channels(3);
  conv->set_kernel(3);
  conv->set_stride(1);
  conv->set_padding(1);
  spec.add_layers()->mutable_relu()->set_clip(4.0);
  spec.add_layers()->mutable_avg_pool()->set_size(2);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  absl::StatusOr<Model> model = Model::Build(spec, Realisation::kOptical, 12);
  ASSERT_TRUE(model.ok()) << model.status();
  std::mt19937_64 rng(13);
  const Eigen::MatrixXd x = RandomMatrix(4, model->input_width(), rng).cwiseAbs();
  const std::vector<int> labels{0, 1, 2, 1};
  model->LossAndGradients(x, labels);
  const Eigen::VectorXd analytic = model->Gradients();
  Eigen::VectorXd parameters = model->Parameters();
  const std::vector<double> numeric =
      NumericGradient(std::span<double>(parameters.data(), parameters.size()), [&] {
        model->SetParameters(parameters);
        Eigen::MatrixXd logits = model->Forward(x);
        Eigen::MatrixXd unused;
        return diff::SoftmaxCrossEntropy(logits, labels, &unused);
      });
  ExpectGradientsAgree(std::span<const double>(analytic.data(), analytic.size()), numeric);
}

}  // namespace
}  // namespace phc::trainers::onn
