// Signed inputs through the daemon: a chip with bipolar (push-pull)
// modulators takes amplitudes in [-1, 1] as V = 2 V_pi / pi asin(a), its
// drivers span [-max, max], and a coherent core's outputs are balanced
// (no dark current subtracted). Unipolar chips refuse negatives as before.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "daemon/chip/chip_controller.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

// One coherent 4 x 4 SVD core, V_pi = 2.5 V, DAC up to 3 V.
photonic::v1::ChipDescription CoherentChip(bool bipolar) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(2);
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->mutable_svd()->set_size(4);
  circuit->mutable_svd()->set_coherent_readout(true);
  chip.mutable_modulator()->set_bipolar(bipolar);
  return chip;
}

using Bench = phc::testing::SimBench;

Bench MakeBench(const photonic::v1::ChipDescription& description) {
  absl::StatusOr<Bench> bench = phc::testing::MakeSimBench(description, 1);
  EXPECT_TRUE(bench.ok()) << bench.status();
  return bench.ok() ? *std::move(bench) : Bench{};
}

TEST(BipolarInputsTest, BipolarChipDrivesNegativeAmplitudesAsNegativeVolts) {
  Bench bench = MakeBench(CoherentChip(true));
  ASSERT_NE(bench.controller, nullptr);
  const std::vector<double> amplitudes = {-0.5, 1.0, -1.0, 0.0};
  auto reading = bench.controller->RunSync([&] {
    EXPECT_TRUE(bench.controller->SetInputs(amplitudes).ok());
    return bench.controller->ReadDetectors(1);
  });
  ASSERT_TRUE(reading.ok()) << reading.status();
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(bench.sim->modulator_voltages_v()[i],
                2 * 2.5 / std::numbers::pi * std::asin(amplitudes[i]), 1e-12)
        << "input " << i;
  }
  // Balanced homodyne pairs: the power is the current over the responsivity.
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(reading->optical_power_mw[k], reading->photocurrent_ua[k] * 1e-3 / 0.9, 1e-12)
        << "output " << k;
  }
  bench.controller->RunSync([&] {
    const absl::Status beyond =
        bench.controller->SetInputs(std::vector<double>{-1.01, 0, 0, 0}).status();
    EXPECT_EQ(beyond.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(beyond.message().find("amplitudes[0] = -1.01 is outside [-1, 1]"), std::string::npos)
        << beyond;
  });
}

TEST(BipolarInputsTest, UnipolarChipRefusesNegativeAmplitudesWithoutWriting) {
  Bench bench = MakeBench(CoherentChip(false));
  ASSERT_NE(bench.controller, nullptr);
  bench.controller->RunSync([&] {
    const absl::Status status =
        bench.controller->SetInputs(std::vector<double>{-0.1, 0, 0, 0}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("amplitudes[0] = -0.1 is outside [0, 1]"), std::string::npos)
        << status;
  });
  EXPECT_EQ(bench.sim->modulator_voltages_v(), std::vector<double>(4, 0.0));
}

TEST(BipolarInputsTest, SimDacSpansMinusMaxToMaxOnlyForBipolarModulators) {
  for (const bool bipolar : {true, false}) {
    SCOPED_TRACE(bipolar);
    auto chip = photonsim::SimChip::Create(CoherentChip(bipolar), 1);
    ASSERT_TRUE(chip.ok());
    drivers::DriverSet set = drivers::MakeSimDrivers(std::move(*chip), 10.0, 3.0);
    EXPECT_EQ(set.modulators->min_voltage_v(), bipolar ? -3.0 : 0.0);
    EXPECT_EQ(set.modulators->SetVoltages(std::vector<double>{-2.0, 0, 0, 0}).ok(), bipolar);
    const absl::Status beyond = set.modulators->SetVoltages(std::vector<double>{-3.1, 0, 0, 0});
    EXPECT_EQ(beyond.code(), absl::StatusCode::kOutOfRange);
    EXPECT_NE(beyond.message().find(bipolar ? "outside [-3, 3] V" : "outside [0, 3] V"),
              std::string::npos)
        << beyond;
  }
}

TEST(BipolarInputsTest, ControllerRefusesABipolarChipOnAUnipolarModulatorDriver) {
  // The instruments drive a unipolar chip; the description says bipolar.
  auto chip = photonsim::SimChip::Create(CoherentChip(false), 1);
  ASSERT_TRUE(chip.ok());
  auto controller = ChipController::Create(CoherentChip(true),
                                           drivers::MakeSimDrivers(std::move(*chip), 10.0, 3.0));
  ASSERT_FALSE(controller.ok());
  EXPECT_EQ(controller.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(controller.status().message().find("bipolar"), std::string::npos)
      << controller.status();
}

}  // namespace
}  // namespace phc::daemon
