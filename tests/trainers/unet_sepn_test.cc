// DAT's U-Net error-prediction layer (diff/unet_sepn.h): its analytic
// gradients (every convolution's weights and biases, the transposed
// convolutions, the skip concatenations, the input) against central
// differences, and the identity when disabled.
#include "phc/trainers/diff/unet_sepn.h"

#include <gtest/gtest.h>

#include <random>

namespace phc::trainers::diff {
namespace {

MatrixXc RandomField(int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  MatrixXc m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m(i) = Complex(gauss(rng), gauss(rng));
  return m;
}

// L = sum |f(x) - t|^2; delta = 2 (f(x) - t).
double Loss(UNetErrorPredictionLayer& layer, const MatrixXc& x, const MatrixXc& t) {
  return (layer.Forward(x) - t).squaredNorm();
}

TEST(UNetErrorPredictionTest, GradientsMatchCentralDifferences) {
  UNetErrorPredictionLayer layer(64, {2, 3, 4}, 5);
  ASSERT_EQ(layer.in_width(), 64);
  const MatrixXc x = RandomField(3, 64, 1);
  const MatrixXc t = RandomField(3, 64, 2);
  const MatrixXc y = layer.Forward(x);
  ASSERT_EQ(y.rows(), 3);
  ASSERT_EQ(y.cols(), 64);
  layer.ZeroGradients();
  const MatrixXc d_in = layer.Backward(2.0 * (y - t));
  const std::vector<double> analytic(layer.gradients().begin(), layer.gradients().end());
  const double largest =
      *std::max_element(analytic.begin(), analytic.end(),
                        [](double a, double b) { return std::abs(a) < std::abs(b); });
  const double h = 1e-6;
  std::span<double> p = layer.parameters();
  // Every parameter: the first convolution, every level, the transposed
  // convolutions and the output convolution, weights and biases.
  for (std::size_t k = 0; k < p.size(); ++k) {
    const double saved = p[k];
    p[k] = saved + h;
    const double plus = Loss(layer, x, t);
    p[k] = saved - h;
    const double minus = Loss(layer, x, t);
    p[k] = saved;
    EXPECT_NEAR(analytic[k], (plus - minus) / (2 * h), 1e-6 * std::abs(largest) + 1e-7) << k;
  }
  // The input: dL/dRe x + i dL/dIm x.
  for (const Eigen::Index i : {0, 17, 63, 64 + 9, 2 * 64 + 40}) {
    MatrixXc moved = x;
    moved(i) += h;
    const double re_plus = Loss(layer, moved, t);
    moved(i) -= 2 * h;
    const double re_minus = Loss(layer, moved, t);
    moved = x;
    moved(i) += Complex(0, h);
    const double im_plus = Loss(layer, moved, t);
    moved(i) -= Complex(0, 2 * h);
    const double im_minus = Loss(layer, moved, t);
    const double scale = d_in.cwiseAbs().maxCoeff();
    EXPECT_NEAR(d_in(i).real(), (re_plus - re_minus) / (2 * h), 1e-6 * scale) << i;
    EXPECT_NEAR(d_in(i).imag(), (im_plus - im_minus) / (2 * h), 1e-6 * scale) << i;
  }
}

TEST(UNetErrorPredictionTest, DisabledIsTheIdentityAndTheDefaultHasTheAuthorsSize) {
  UNetErrorPredictionLayer layer(64, {4, 8, 16}, 1);
  // 3x3 complex kernels and biases: level 1 (1->4, 4->4, 4->4, down 4->4),
  // level 2 (4->8, 8->8, 8->8, down 8->8), level 3 (8->16, 16->16, 16->16),
  // up 16->8, up 16->4, out 8->1.
  const int weights = 9 * (4 + 16 + 16 + 16 + 32 + 64 + 64 + 64 + 128 + 256 + 256 + 128 + 64 + 8);
  const int biases = 4 * 4 + 8 * 4 + 16 * 3 + 8 + 4 + 1;
  EXPECT_EQ(layer.parameters().size(), static_cast<std::size_t>(2 * (weights + biases)));
  const MatrixXc x = RandomField(2, 64, 3);
  EXPECT_GT((layer.Forward(x) - x).norm(), 0.0);
  layer.set_enabled(false);
  EXPECT_EQ(layer.Forward(x), x);
  const MatrixXc d = RandomField(2, 64, 4);
  EXPECT_EQ(layer.Backward(d), d);
}

}  // namespace
}  // namespace phc::trainers::diff
