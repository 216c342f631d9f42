#include "photonsim/microring.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace photonsim {
namespace {

TEST(MicroringTest, LosslessRingConservesPower) {
  const RingCoupling ring{0.97, 1.0};
  for (double phi = -std::numbers::pi; phi <= std::numbers::pi; phi += 0.01) {
    EXPECT_NEAR(RingThroughTransmission(phi, ring) + RingDropTransmission(phi, ring), 1.0, 1e-12)
        << phi;
  }
}

TEST(MicroringTest, CriticallyCoupledLosslessRingDropsEverythingOnResonance) {
  const RingCoupling ring{0.98, 1.0};
  EXPECT_NEAR(RingDropTransmission(0.0, ring), 1.0, 1e-12);
  EXPECT_NEAR(RingThroughTransmission(0.0, ring), 0.0, 1e-12);
  // Off resonance (phi = pi): T_through = 4 r^2 / (1 + r^2)^2.
  const double r2 = 0.98 * 0.98;
  EXPECT_NEAR(RingThroughTransmission(std::numbers::pi, ring), 4 * r2 / ((1 + r2) * (1 + r2)),
              1e-12);
}

TEST(MicroringTest, WeightSpansMinusOneToOneMonotonicallyOverTheTuningRange) {
  const RingCoupling ring{0.98, 0.998};
  double previous = RingWeight(0.0, ring);
  EXPECT_GT(previous, 0.9);
  for (double phi = 0.001; phi <= std::numbers::pi; phi += 0.001) {
    const double w = RingWeight(phi, ring);
    EXPECT_LT(w, previous) << phi;
    EXPECT_GE(w, -1.0);
    EXPECT_LE(w, 1.0);
    previous = w;
  }
  EXPECT_LT(previous, -0.99);
}

TEST(MicroringBankTest, WellSeparatedChannelsGiveEachRingItsOwnWeight) {
  const RingCoupling ring{0.98, 0.999};
  MicroringBank bank(4, 2, ring, 0.25);
  // Tuning stays within half a channel spacing (pi/4 here): further, a ring
  // walks onto its neighbour's wavelength.
  std::vector<double> detunings = {0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7};
  bank.SetDetunings(detunings);
  const Eigen::MatrixXd weights = bank.EffectiveWeights();
  for (int i = 0; i < 2; ++i) {
    for (int k = 0; k < 4; ++k) {
      // Neighbouring rings a quarter FSR away drop < 0.1 % each.
      EXPECT_NEAR(weights(i, k), RingWeight(detunings[i * 4 + k], ring), 0.01)
          << "row " << i << " channel " << k;
    }
  }
}

TEST(MicroringBankTest, CloseChannelsCrossTalk) {
  const RingCoupling ring{0.95, 0.999};
  MicroringBank bank(2, 1, ring, 0.02);
  bank.SetDetunings(std::vector<double>{0.0, std::numbers::pi});
  // Channel 1's ring is far off, but ring 0 (only 0.02 FSR away) drops
  // much of channel 1: its weight is far from the isolated ring's.
  const Eigen::MatrixXd weights = bank.EffectiveWeights();
  EXPECT_GT(weights(0, 1) - RingWeight(std::numbers::pi, ring), 0.2);
}

TEST(MicroringBankTest, DetectIsLinearInChannelPower) {
  MicroringBank bank(3, 2, {0.98, 0.999}, 0.2);
  bank.SetDetunings(std::vector<double>{0.1, 0.4, 1.2, 0.0, 2.0, 0.6});
  const Eigen::MatrixXd weights = bank.EffectiveWeights();
  const std::vector<double> power = {0.3, 1.0, 0.7};
  std::vector<double> drop(2), through(2);
  bank.Detect(power, drop, through);
  for (int i = 0; i < 2; ++i) {
    const double expected = weights(i, 0) * 0.3 + weights(i, 1) * 1.0 + weights(i, 2) * 0.7;
    EXPECT_NEAR(drop[i] - through[i], expected, 1e-12);
  }
}

}  // namespace
}  // namespace photonsim

namespace photonsim {
namespace {

// Drop and through powers of every row for one input per channel, computed
// from the ring formulas directly (light meets the rings in channel order).
Eigen::MatrixXd ReferenceWeights(const std::vector<double>& detunings, int channels, int rows,
                                 RingCoupling ring, double spacing_fsr, double offset) {
  Eigen::MatrixXd weights(rows, channels);
  const double spacing = 2 * std::numbers::pi * spacing_fsr;
  for (int i = 0; i < rows; ++i) {
    for (int k = 0; k < channels; ++k) {
      double remaining = 1.0, drop = 0.0;
      for (int j = 0; j < channels; ++j) {
        const double d = detunings[i * channels + j] + offset - spacing * (k - j);
        drop += remaining * RingDropTransmission(d, ring);
        remaining *= RingThroughTransmission(d, ring);
      }
      weights(i, k) = drop - remaining;
    }
  }
  return weights;
}

TEST(MicroringTest, BankRetunedRowByRowAndOffsetMatchesTheRingFormulas) {
  constexpr int kChannels = 5, kRows = 7;
  const RingCoupling ring{0.98, 0.998};
  MicroringBank bank(kChannels, kRows, ring, 0.1);
  std::vector<double> detunings(kChannels * kRows);
  for (std::size_t i = 0; i < detunings.size(); ++i) detunings[i] = 0.05 * std::sin(1.3 * i);
  bank.SetDetunings(detunings);
  EXPECT_LT(
      (bank.EffectiveWeights() - ReferenceWeights(detunings, kChannels, kRows, ring, 0.1, 0.0))
          .cwiseAbs()
          .maxCoeff(),
      1e-13);
  // Retune one ring of row 3: only that row may change, and it must.
  const Eigen::MatrixXd before = bank.EffectiveWeights();
  detunings[3 * kChannels + 2] += 0.2;
  bank.SetDetunings(detunings);
  const Eigen::MatrixXd after = bank.EffectiveWeights();
  EXPECT_LT(
      (after - ReferenceWeights(detunings, kChannels, kRows, ring, 0.1, 0.0)).cwiseAbs().maxCoeff(),
      1e-13);
  for (int i = 0; i < kRows; ++i) {
    const double change = (after.row(i) - before.row(i)).cwiseAbs().maxCoeff();
    if (i == 3) {
      EXPECT_GT(change, 1e-3);
    } else {
      EXPECT_EQ(change, 0.0) << "row " << i;
    }
  }
  // A common offset detunes every ring alike.
  bank.SetCommonDetuningOffset(0.03);
  EXPECT_LT(
      (bank.EffectiveWeights() - ReferenceWeights(detunings, kChannels, kRows, ring, 0.1, 0.03))
          .cwiseAbs()
          .maxCoeff(),
      1e-13);
}

}  // namespace
}  // namespace photonsim
