#include "photonsim/vector_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace photonsim {
namespace {

// The stated accuracy (vector_math.h): 1e-15 absolute against libm for
// |x| <= 1e3 rad; SLEEF's u10 kernels promise 1.0 ULP.
constexpr double kSinCosTolerance = 1e-15;

TEST(VectorMathTest, SinCosMatchesLibmOverPhasesAndDriftedPhases) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> angle(-1e3, 1e3);
  // Odd length: every vector width and the scalar tail are exercised.
  std::vector<double> x(100'003);
  for (double& v : x) v = angle(rng);
  x[0] = 0.0;
  x[1] = std::numbers::pi;
  x[2] = -std::numbers::pi / 2;
  x[3] = 2 * std::numbers::pi;
  x[4] = 1e-300;
  std::vector<double> s(x.size()), c(x.size());
  SinCos(x, s, c);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    worst = std::max({worst, std::abs(s[i] - std::sin(x[i])), std::abs(c[i] - std::cos(x[i]))});
  }
  EXPECT_LE(worst, kSinCosTolerance) << SinCosKernelName();
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(c[0], 1.0);
}

TEST(VectorMathTest, SinCosHandlesEveryLengthUpToTwoVectors) {
  for (std::size_t n = 0; n <= 17; ++n) {
    std::vector<double> x(n), s(n, 9.0), c(n, 9.0);
    for (std::size_t i = 0; i < n; ++i) x[i] = 0.37 * static_cast<double>(i) - 2.0;
    SinCos(x, s, c);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(s[i], std::sin(x[i]), kSinCosTolerance) << "n=" << n << " i=" << i;
      EXPECT_NEAR(c[i], std::cos(x[i]), kSinCosTolerance) << "n=" << n << " i=" << i;
    }
  }
}

TEST(VectorMathTest, LogMatchesLibmWithinTwoUlps) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> exponent(-300.0, 300.0);
  std::vector<double> x(10'007);
  for (double& v : x) v = std::pow(10.0, exponent(rng));
  x[0] = 1.0;
  x[1] = 0x1p-53;  // the smallest uniform FillStandardNormals takes a log of
  std::vector<double> out(x.size());
  Log(x, out);
  double worst_relative = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double exact = std::log(x[i]);
    if (exact != 0.0) worst_relative = std::max(worst_relative, std::abs(out[i] / exact - 1.0));
  }
  EXPECT_LE(worst_relative, 2 * std::numeric_limits<double>::epsilon()) << SinCosKernelName();
  EXPECT_EQ(out[0], 0.0);
}

// The modulator volts (ChipController::ModulatorVolts) come from asin of
// field transmissions in [-1, 1]: 1e-15 absolute against libm, which is
// below 1e-14 V at a V_pi of 5 V, far under one DAC code; exact at 0 and
// +-1 (dark and full inputs).
TEST(VectorMathTest, AsinMatchesLibmOverTransmissions) {
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> transmission(-1.0, 1.0);
  std::vector<double> x(10'009);  // odd: every width and the scalar tail
  for (double& v : x) v = transmission(rng);
  x[0] = 0.0;
  x[1] = 1.0;
  x[2] = -1.0;
  x[3] = -0.0;
  x[4] = std::nextafter(1.0, 0.0);
  x[5] = 1e-300;
  std::vector<double> out(x.size());
  Asin(x, out);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::abs(out[i] - std::asin(x[i])));
  }
  EXPECT_LE(worst, kSinCosTolerance) << SinCosKernelName();
  EXPECT_EQ(out[0], 0.0);
  EXPECT_TRUE(std::signbit(out[3]));
  EXPECT_EQ(out[1], std::numbers::pi / 2);
  EXPECT_EQ(out[2], -std::numbers::pi / 2);
  // In place, as ModulatorVolts uses it.
  std::vector<double> in_place = x;
  Asin(in_place, in_place);
  EXPECT_EQ(in_place, out);
}

// Moments of N(0, 1) against the sample's own standard errors (5 sigma):
// mean 0, variance 1, fourth moment 3, P(|z| > 2) = 0.0455, and no
// correlation between neighbours (the two members of a Box-Muller pair).
TEST(VectorMathTest, StandardNormalsHaveTheMomentsAndTailOfAGaussian) {
  constexpr std::size_t kCount = 200'001;  // odd: the last pair is cut
  std::mt19937_64 rng(3);
  std::vector<double> z(kCount);
  FillStandardNormals(z, rng);
  double sum = 0.0, sum2 = 0.0, sum4 = 0.0, neighbours = 0.0;
  std::size_t tail = 0;
  for (std::size_t i = 0; i < kCount; ++i) {
    sum += z[i];
    sum2 += z[i] * z[i];
    sum4 += z[i] * z[i] * z[i] * z[i];
    tail += std::abs(z[i]) > 2.0;
    if (i + 1 < kCount) neighbours += z[i] * z[i + 1];
  }
  const double n = kCount;
  EXPECT_NEAR(sum / n, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(sum2 / n, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(sum4 / n, 3.0, 5.0 * std::sqrt(96.0 / n));  // var(z^4) = 105 - 9
  const double p_tail = 0.0455003;
  EXPECT_NEAR(tail / n, p_tail, 5.0 * std::sqrt(p_tail * (1 - p_tail) / n));
  EXPECT_NEAR(neighbours / (n - 1), 0.0, 5.0 / std::sqrt(n));
}

TEST(VectorMathTest, StandardNormalsAreFixedByTheSeedAndFillEveryLength) {
  for (std::size_t n : {0, 1, 2, 3, 511, 512, 513}) {
    std::mt19937_64 a(5), b(5);
    std::vector<double> x(n, std::nan("")), y(n);
    FillStandardNormals(x, a);
    FillStandardNormals(y, b);
    EXPECT_EQ(x, y) << "n=" << n;
    for (double v : x) EXPECT_TRUE(std::isfinite(v)) << "n=" << n;
  }
}

}  // namespace
}  // namespace photonsim
