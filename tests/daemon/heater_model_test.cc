#include "daemon/chip/heater_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "photonsim/phase.h"

namespace phc::daemon {
namespace {

using photonsim::kTwoPi;
using photonsim::WrapPhase;

TEST(WrapPhaseTest, MapsEveryFinitePhaseIntoZeroToTwoPi) {
  for (double phase : {-1e6, -kTwoPi, -1e-300, -0.5, 0.0, 0.5, kTwoPi, 7.0, 1e6}) {
    const double wrapped = WrapPhase(phase);
    EXPECT_GE(wrapped, 0.0) << phase;
    EXPECT_LT(wrapped, kTwoPi) << phase;
    // Same point on the circle.
    EXPECT_NEAR(std::cos(wrapped), std::cos(phase), 1e-9) << phase;
    EXPECT_NEAR(std::sin(wrapped), std::sin(phase), 1e-9) << phase;
  }
  EXPECT_NEAR(WrapPhase(-std::numbers::pi / 2), 1.5 * std::numbers::pi, 1e-15);
}

TEST(NominalHeaterModelTest, PiPhaseTakesPPiAndRoundTrips) {
  photonic::v1::HeaterSpec spec;
  spec.set_resistance_ohm(800);
  spec.set_p_pi_mw(20);
  const NominalHeaterModel model(spec);
  EXPECT_NEAR(model.PowerMwForPhase(std::numbers::pi), 20.0, 1e-12);
  // P = V^2 / R: 20 mW into 800 ohm is 4 V and 5 mA.
  EXPECT_NEAR(model.VoltageForPhase(std::numbers::pi), 4.0, 1e-12);
  EXPECT_NEAR(model.CurrentMaForVoltage(4.0), 5.0, 1e-12);
  for (double phase = 0.0; phase < kTwoPi; phase += 0.37) {
    EXPECT_NEAR(model.PhaseForVoltage(model.VoltageForPhase(phase)), phase, 1e-12);
  }
}

TEST(WorstCaseResistanceRatioTest, IsThreeSigmaBelowNominal) {
  photonic::v1::ChipDescription chip;
  chip.mutable_fabrication()->set_resistance_spread(0.05);
  EXPECT_NEAR(WorstCaseResistanceRatio(chip), 0.85, 1e-15);
  chip.mutable_fabrication()->set_resistance_spread(0.0);
  EXPECT_EQ(WorstCaseResistanceRatio(chip), 1.0);
}

}  // namespace
}  // namespace phc::daemon
