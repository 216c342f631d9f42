// The layers of DAT's authors' MPNN (diff/mpnn.h): the electro-optic
// activation against its closed form, every new layer's backward pass and
// the whole network's gradient against central differences, the centred
// Fourier features of images with known spectra, and complex fields through
// a measured forward pass (a twin runs them; a chip's modulators refuse them).
#include "phc/trainers/diff/mpnn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <random>

#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/model_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers::diff {
namespace {

MatrixXc RandomFields(int rows, int cols, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> g(0.0, scale);
  MatrixXc x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = Complex(g(rng), g(rng));
  return x;
}

// L = sum Re(conj(w) . layer(x)): the layer's input gradient against
// central differences on every real and imaginary part, to `tolerance`.
void CheckInputGradient(Layer& layer, const MatrixXc& x, std::mt19937_64& rng, double tolerance) {
  const MatrixXc w = RandomFields(static_cast<int>(x.rows()), layer.out_width(), rng);
  auto loss = [&](const MatrixXc& in) {
    return (w.conjugate().cwiseProduct(layer.Forward(in))).sum().real();
  };
  loss(x);
  const MatrixXc analytic = layer.Backward(w);
  const double h = 1e-6;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    for (const Complex step : {Complex(h, 0.0), Complex(0.0, h)}) {
      MatrixXc up = x, down = x;
      up.data()[i] += step;
      down.data()[i] -= step;
      const double numeric = (loss(up) - loss(down)) / (2 * h);
      const double expected =
          step.real() != 0.0 ? analytic.data()[i].real() : analytic.data()[i].imag();
      EXPECT_NEAR(expected, numeric, tolerance) << layer.name() << " element " << i;
    }
  }
}

TEST(ElectroOpticLayerTest, TransmitsAsItsClosedFormAndItsGradientMatches) {
  const ElectroOpticSpec spec;  // the authors': alpha 0.1, g 0.05 pi, phi_b pi
  ElectroOpticLayer layer(3, spec);
  MatrixXc x(1, 3);
  x << Complex(0.0, 0.0), Complex(1.0, 0.0), Complex(0.0, -4.0);
  const MatrixXc y = layer.Forward(x);
  for (int k = 0; k < 3; ++k) {
    const double s = std::norm(x(0, k));
    const double u = 0.5 * spec.gain * s + 0.5 * spec.bias_rad;
    // Power transmission (1 - alpha) cos^2 u, phase -u.
    EXPECT_NEAR(std::norm(y(0, k)), 0.9 * std::cos(u) * std::cos(u) * s, 1e-14);
    // Phase shift -u (mod pi: cos u may be negative).
    if (s > 0.0) {
      EXPECT_NEAR(std::remainder(std::arg(y(0, k) / x(0, k)) + u, std::numbers::pi), 0.0, 1e-12);
    }
  }
  EXPECT_EQ(y(0, 0), Complex(0.0, 0.0));
  EXPECT_TRUE(layer.in_optical_block());
  EXPECT_FALSE(layer.optical_correction());
  std::mt19937_64 rng(1);
  CheckInputGradient(layer, RandomFields(4, 3, rng, 1.5), rng, 1e-7);
}

TEST(MpnnLayersTest, ComplexInputAndNormalisedReadoutBackwardMatchCentralDifferences) {
  std::mt19937_64 rng(2);
  ComplexInputLayer input(3);
  MatrixXc features = MatrixXc::Zero(2, 6);
  features.real() = Eigen::MatrixXd::Random(2, 6);
  const MatrixXc fields = input.Forward(features);
  EXPECT_EQ(fields(1, 2), Complex(features(1, 2).real(), features(1, 5).real()));
  // Real features: only the real parts of the input gradient are checked.
  const MatrixXc w = RandomFields(2, 3, rng);
  const MatrixXc back = input.Backward(w);
  EXPECT_EQ(back(1, 2), Complex(w(1, 2).real(), 0.0));
  EXPECT_EQ(back(1, 5), Complex(w(1, 2).imag(), 0.0));

  NormalisedReadoutLayer readout(6, 4);
  MatrixXc powers = MatrixXc::Zero(3, 6);
  powers.real() = Eigen::MatrixXd::Random(3, 6).cwiseAbs() + Eigen::MatrixXd::Constant(3, 6, 0.1);
  const MatrixXc logits = readout.Forward(powers);
  EXPECT_NEAR(logits(0, 0).real(), powers(0, 0).real() / powers.row(0).real().norm(), 1e-15);
  // Powers are real: perturb the real parts only.
  const MatrixXc v = RandomFields(3, 4, rng);
  auto loss = [&](const MatrixXc& p) {
    return (v.real().cwiseProduct(readout.Forward(p).real())).sum();
  };
  loss(powers);
  const MatrixXc analytic = readout.Backward(v.real().cast<Complex>());
  for (Eigen::Index i = 0; i < powers.size(); ++i) {
    MatrixXc up = powers, down = powers;
    up.data()[i] += 1e-6;
    down.data()[i] -= 1e-6;
    EXPECT_NEAR(analytic.data()[i].real(), (loss(up) - loss(down)) / 2e-6, 1e-8) << i;
  }
}

// The whole network (complex inputs, 3 meshes with linear error
// predictions and activations, normalised readout): every parameter's
// gradient, to 1e-6 of the largest.
TEST(MpnnTest, NetworkGradientMatchesCentralDifferences) {
  for (const bool digital : {false, true}) {
    SCOPED_TRACE(digital ? "digital readout" : "normalised readout");
    Network net = BuildMpnn({.modes = 4,
                             .meshes = 3,
                             .classes = 3,
                             .digital_readout = digital,
                             .predictions = true,
                             .seed = 3});
    std::mt19937_64 rng(4);
    std::normal_distribution<double> small(0.0, 0.1);
    Eigen::VectorXd theta = net.Parameters();
    for (Eigen::Index i = 0; i < theta.size(); ++i) {
      if (theta(i) == 0.0) theta(i) = small(rng);  // the predictions start at 0
    }
    net.SetParameters(theta);
    const Eigen::MatrixXd features = Eigen::MatrixXd::Random(5, 8) * 2.0;
    const std::vector<int> labels = {0, 1, 2, 1, 0};
    net.LossAndGradients(features, labels);
    const Eigen::VectorXd analytic = net.Gradients();
    const double scale = analytic.cwiseAbs().maxCoeff();
    ASSERT_GT(scale, 1e-5);
    for (Eigen::Index i = 0; i < theta.size(); ++i) {
      Eigen::VectorXd p = theta;
      p(i) += 1e-6;
      net.SetParameters(p);
      const double up = net.LossAndGradients(features, labels);
      p(i) -= 2e-6;
      net.SetParameters(p);
      const double down = net.LossAndGradients(features, labels);
      EXPECT_NEAR(analytic(i), (up - down) / 2e-6, 1e-6 * scale) << "parameter " << i;
    }
    net.SetParameters(theta);
  }
}

ImageSet Images(const std::vector<std::function<double(int, int)>>& pictures) {
  ImageSet set;
  set.rows = set.cols = 28;
  set.pixels.resize(static_cast<Eigen::Index>(pictures.size()), 28 * 28);
  for (std::size_t s = 0; s < pictures.size(); ++s) {
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c)
        set.pixels(static_cast<Eigen::Index>(s), r * 28 + c) = pictures[s](r, c);
    }
    set.labels.push_back(static_cast<int>(s));
  }
  return set;
}

// A constant image has only its zero frequency: the centre coefficient
// (row 4, column 4 of 8 x 8) holds all of the mean modulus' 64. A cosine of
// 2 cycles along the columns has two equal real coefficients at column
// frequencies -2 and +2 (columns 2 and 6 of row 4): 32 each.
TEST(CentredFourierFeaturesTest, KnownSpectraLandAtTheCentredFrequencies) {
  const Dataset data = CentredFourierFeatures(
      Images({[](int, int) { return 100.0; },
              [](int, int c) { return 100.0 * std::cos(2 * std::numbers::pi * 2 * c / 28); }}),
      8);
  ASSERT_EQ(data.features.cols(), 128);
  auto coefficient = [&](int sample, int row, int col) {
    const int k = row * 8 + col;
    return Complex(data.features(sample, k), data.features(sample, 64 + k));
  };
  for (int row = 0; row < 8; ++row) {
    for (int col = 0; col < 8; ++col) {
      const Complex dc_expected = row == 4 && col == 4 ? Complex(64.0, 0.0) : Complex(0.0, 0.0);
      EXPECT_NEAR(std::abs(coefficient(0, row, col) - dc_expected), 0.0, 1e-9) << row << "," << col;
      const bool peak = row == 4 && (col == 2 || col == 6);
      const Complex cos_expected = peak ? Complex(32.0, 0.0) : Complex(0.0, 0.0);
      EXPECT_NEAR(std::abs(coefficient(1, row, col) - cos_expected), 0.0, 1e-9)
          << row << "," << col;
    }
  }
  EXPECT_EQ(data.labels, (std::vector<int>{0, 1}));
}

TEST(MpnnTest, ComplexFieldsRunOnATwinAndAreRefusedByAChipsModulators) {
  Network model = BuildMpnn({.modes = 4, .meshes = 2, .classes = 3, .seed = 5});
  Network twin = BuildMpnn({.modes = 4, .meshes = 2, .classes = 3, .seed = 6});
  NetworkMeasurer physical(twin);
  const Eigen::MatrixXd features = Eigen::MatrixXd::Random(3, 8);
  std::vector<MatrixXc> inputs;
  absl::StatusOr<Eigen::MatrixXd> logits = model.ForwardMeasured(features, physical, &inputs);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ASSERT_EQ(inputs.size(), 1u);  // one coherent block of both meshes and the activation
  EXPECT_GT(inputs[0].imag().cwiseAbs().maxCoeff(), 0.0);
  // The twin took the model's phases: without errors it computes the model.
  EXPECT_LT((*logits - model.Forward(features)).cwiseAbs().maxCoeff(), 1e-12);

  photonic::v1::ChipDescription description = testing::IdealMeshChip(4);
  description.set_max_total_heater_power_mw(1e6);
  ModelOracle chip(description);
  OracleMeasurer measurer(chip, 0, 1.0);
  const std::vector<const MeshLayer*> mesh{model.meshes()[0]};
  EXPECT_EQ(measurer.Measure(0, mesh, inputs[0]).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chip.cost().queries, 0);
  const absl::StatusOr<Eigen::MatrixXd> real =
      measurer.Measure(0, mesh, inputs[0].real().cast<Complex>());
  EXPECT_TRUE(real.ok()) << real.status();
}

}  // namespace
}  // namespace phc::trainers::diff
