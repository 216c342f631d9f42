// The TEC through the controller: read, setpoint within the controller's
// range, refusal outside it, no TEC, and the drift flag.
#include <gtest/gtest.h>

#include <memory>

#include "daemon/chip/chip_controller.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

photonic::v1::ChipDescription ChipWithTec() {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  chip.mutable_tec()->set_setpoint_c(25.0);
  chip.mutable_tec()->set_stability_k(0.01);
  chip.mutable_tec()->set_time_constant_s(1.0);
  return chip;
}

struct Bench {
  std::shared_ptr<photonsim::SimChip> sim;
  std::unique_ptr<ChipController> controller;
};

Bench MakeBench(const photonic::v1::ChipDescription& chip,
                std::unique_ptr<drivers::TecDriver> tec_override = nullptr, bool no_tec = false) {
  Bench bench;
  bench.sim = std::shared_ptr<photonsim::SimChip>(*photonsim::SimChip::Create(chip, 3));
  drivers::DriverSet set = drivers::MakeSimDrivers(bench.sim, chip.heater().max_voltage_v(),
                                                   chip.modulator().max_voltage_v());
  if (tec_override) set.tec = std::move(tec_override);
  if (no_tec) set.tec.reset();
  bench.controller = *ChipController::Create(chip, std::move(set));
  return bench;
}

TEST(TemperatureTest, ReadsTheSimulatedChipAndMovesItsSetpointWithinTheRange) {
  Bench bench = MakeBench(ChipWithTec());
  absl::StatusOr<TemperatureReading> reading = bench.controller->ReadTemperature();
  ASSERT_TRUE(reading.ok()) << reading.status();
  EXPECT_EQ(reading->setpoint_c, 25.0);
  // The held temperature wanders with the description's stability (0.01 K).
  EXPECT_NEAR(reading->temperature_c, 25.0, 0.1);
  EXPECT_EQ(reading->temperature_c, bench.sim->temperature_c());
  EXPECT_EQ(reading->min_setpoint_c, 15.0);
  EXPECT_EQ(reading->max_setpoint_c, 35.0);

  ASSERT_TRUE(bench.controller->SetTemperatureSetpoint(30.0).ok());
  EXPECT_EQ(bench.sim->tec_setpoint_c(), 30.0);
  reading = bench.controller->ReadTemperature();
  ASSERT_TRUE(reading.ok());
  EXPECT_NEAR(reading->temperature_c, 30.0, 0.1);

  const absl::Status refused = bench.controller->SetTemperatureSetpoint(40.0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("outside [15, 35]"), std::string::npos) << refused;
  EXPECT_EQ(bench.sim->tec_setpoint_c(), 30.0);  // unchanged
}

TEST(TemperatureTest, ADaemonWithoutATecSaysSo) {
  Bench bench = MakeBench(ChipWithTec(), nullptr, /*no_tec=*/true);
  EXPECT_EQ(bench.controller->ReadTemperature().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bench.controller->SetTemperatureSetpoint(25.0).code(),
            absl::StatusCode::kFailedPrecondition);
}

// A TEC that holds the chip at a fixed temperature.
class FixedTec final : public drivers::TecDriver {
 public:
  explicit FixedTec(double celsius) : celsius_(celsius) {}
  absl::StatusOr<double> ReadTemperatureC() override { return celsius_; }
  absl::Status SetSetpointC(double celsius) override {
    setpoint_ = celsius;
    return absl::OkStatus();
  }
  double setpoint_c() const override { return setpoint_; }
  double min_setpoint_c() const override { return 0.0; }
  double max_setpoint_c() const override { return 50.0; }

 private:
  double celsius_;
  double setpoint_ = 25.0;
};

TEST(TemperatureTest, ATemperatureBeyondThreeStabilitiesOfTheSetpointIsDrifting) {
  // stability 0.01 K: 0.029 K off is held, 0.031 K off is drifting.
  Bench held = MakeBench(ChipWithTec(), std::make_unique<FixedTec>(25.029));
  ASSERT_TRUE(held.controller->ReadTemperature().ok());
  EXPECT_FALSE(held.controller->ReadTemperature()->drifting);
  Bench drifting = MakeBench(ChipWithTec(), std::make_unique<FixedTec>(24.969));
  EXPECT_TRUE(drifting.controller->ReadTemperature()->drifting);
}

}  // namespace
}  // namespace phc::daemon
