#include "photonsim/sim_chip.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <numeric>

#include "photonsim/chip_description.h"

namespace photonsim {
namespace {

photonic::v1::ChipDescription TestChip(int n) {
  photonic::v1::ChipDescription chip;
  chip.set_name("test");
  chip.set_topology(photonic::v1::MESH_TOPOLOGY_CLEMENTS);
  chip.set_mesh_size(n);
  chip.set_laser_power_mw(2.0);
  chip.mutable_heater()->set_resistance_ohm(1000);
  chip.mutable_heater()->set_p_pi_mw(20);
  chip.mutable_heater()->set_max_voltage_v(10);
  chip.mutable_heater()->set_max_current_ma(10);
  chip.mutable_modulator()->set_v_pi_v(2);
  chip.mutable_modulator()->set_max_voltage_v(2);
  chip.mutable_detector()->set_responsivity_a_per_w(0.8);
  chip.mutable_detector()->set_dark_current_na(5);
  chip.set_max_total_heater_power_mw(1000);
  return chip;
}

TEST(SimChipTest, RejectsInvalidDescription) {
  photonic::v1::ChipDescription chip = TestChip(4);
  chip.mutable_heater()->set_resistance_ohm(-1);
  const auto created = SimChip::Create(chip, 1);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("heater.resistance_ohm"), std::string::npos);
}

TEST(SimChipTest, DarkChipReadsDarkCurrent) {
  auto chip = SimChip::Create(TestChip(4), 1);
  ASSERT_TRUE(chip.ok());
  for (double current : (*chip)->ReadPhotocurrentsA(1)) EXPECT_DOUBLE_EQ(current, 5e-9);
}

TEST(SimChipTest, PhotocurrentsFollowHeaterPowerAndModulatorLaw) {
  constexpr int kN = 4;
  const photonic::v1::ChipDescription description = TestChip(kN);
  auto created = SimChip::Create(description, 1);
  ASSERT_TRUE(created.ok());
  SimChip& chip = **created;

  // Heater voltages and the phases they must produce: phase = pi/P_pi * V^2/R.
  std::vector<int> channels(chip.heater_count());
  std::iota(channels.begin(), channels.end(), 0);
  std::vector<double> volts(chip.heater_count());
  std::vector<double> phases(chip.heater_count());
  for (int i = 0; i < chip.heater_count(); ++i) {
    volts[i] = 0.5 + 0.45 * i;
    phases[i] = std::numbers::pi / 20.0 * (volts[i] * volts[i] / 1000.0 * 1e3);
  }
  chip.SetHeaterVoltages(channels, volts);
  // Modulators: V = V_pi gives amplitude 1; V = V_pi/2 gives sin(pi/4).
  const std::vector<double> modulator_volts = {2.0, 1.0, 0.0, 2.0};
  chip.SetModulatorVoltages(modulator_volts);

  ClementsMesh reference(kN);
  reference.SetPhases(phases);
  VectorXc inputs(kN);
  for (int i = 0; i < kN; ++i) {
    inputs(i) = std::sqrt(2.0) * std::sin(std::numbers::pi / 2 * modulator_volts[i] / 2.0);
  }
  const VectorXc outputs = reference.TransferMatrix() * inputs;
  const std::vector<double> currents = chip.ReadPhotocurrentsA(1);
  double total_power_mw = 0.0;
  for (int k = 0; k < kN; ++k) {
    const double expected_a = 0.8 * std::norm(outputs(k)) * 1e-3 + 5e-9;
    EXPECT_NEAR(currents[k], expected_a, 1e-12 * expected_a + 1e-18) << "output " << k;
    total_power_mw += (currents[k] - 5e-9) / 0.8 * 1e3;
  }
  // Lossless: the outputs carry all the input power, 2 mW * (1 + 0.5 + 0 + 1).
  EXPECT_NEAR(total_power_mw, 5.0, 1e-9);
}

}  // namespace
}  // namespace photonsim
