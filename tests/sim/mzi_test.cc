#include "photonsim/mzi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace photonsim {
namespace {

constexpr double kTol = 1e-14;

// The closed form stated in mzi.h for ideal couplers.
Matrix2c AnalyticMzi(double theta, double phi) {
  const Complex prefactor = Complex(0, 1) * std::polar(1.0, theta / 2);
  const Complex e_phi = std::polar(1.0, phi);
  Matrix2c m;
  m << e_phi * std::sin(theta / 2), std::cos(theta / 2), e_phi * std::cos(theta / 2),
      -std::sin(theta / 2);
  return prefactor * m;
}

TEST(MziTest, MatchesAnalyticFormForRandomPhases) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  for (int trial = 0; trial < 200; ++trial) {
    const double theta = phase(rng);
    const double phi = phase(rng);
    const Matrix2c expected = AnalyticMzi(theta, phi);
    EXPECT_LT((MziMatrix(theta, phi) - expected).cwiseAbs().maxCoeff(), kTol)
        << "theta=" << theta << " phi=" << phi;
  }
}

TEST(MziTest, ThetaZeroIsCrossAndThetaPiIsBar) {
  const Matrix2c cross = MziMatrix(0.0, 0.3);
  EXPECT_NEAR(std::norm(cross(0, 0)), 0.0, kTol);
  EXPECT_NEAR(std::norm(cross(1, 0)), 1.0, kTol);
  const Matrix2c bar = MziMatrix(std::numbers::pi, 0.3);
  EXPECT_NEAR(std::norm(bar(0, 0)), 1.0, kTol);
  EXPECT_NEAR(std::norm(bar(1, 0)), 0.0, kTol);
}

TEST(MziTest, PowerSplitFollowsSinSquaredOfHalfTheta) {
  for (double theta = 0.0; theta < 2 * std::numbers::pi; theta += 0.1) {
    const Matrix2c t = MziMatrix(theta, 1.1);
    EXPECT_NEAR(std::norm(t(0, 0)), std::pow(std::sin(theta / 2), 2), kTol);
  }
}

TEST(MziTest, ImperfectCouplersStayUnitaryButLoseExtinction) {
  const Matrix2c t = MziMatrix(0.0, 0.0, 0.05, -0.03);
  EXPECT_LT((t.adjoint() * t - Matrix2c::Identity()).cwiseAbs().maxCoeff(), kTol);
  // With unequal splitting the cross state leaks into the bar port.
  EXPECT_GT(std::norm(t(0, 0)), 1e-4);
}

}  // namespace
}  // namespace photonsim
