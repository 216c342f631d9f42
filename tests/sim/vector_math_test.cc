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

}  // namespace
}  // namespace photonsim
