// Property: no request, however malformed, makes a heater driver write that
// exceeds a voltage, current or power limit, and a refused request changes
// nothing. 10^5 random and adversarial requests against a controller whose
// heater driver is wrapped in a checking decorator.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "daemon/chip/chip_controller.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

// Checks every write against the limits the controller holds right now
// (with the nominal heater model, which is what PowerGuard can know).
class LimitCheckingHeaterDriver final : public drivers::HeaterDriver {
 public:
  LimitCheckingHeaterDriver(std::unique_ptr<drivers::HeaterDriver> inner, double resistance_ohm)
      : inner_(std::move(inner)),
        resistance_ohm_(resistance_ohm),
        volts_(inner_->channel_count(), 0.0) {}

  void set_controller(const ChipController* controller) { controller_ = controller; }
  int violations() const { return violations_; }
  int writes() const { return writes_; }
  // Largest change of one channel's voltage in a single write.
  double largest_step_v() const { return largest_step_v_; }

  int channel_count() const override { return inner_->channel_count(); }
  double max_voltage_v() const override { return inner_->max_voltage_v(); }
  absl::StatusOr<std::vector<double>> ReadVoltages() override { return inner_->ReadVoltages(); }

  absl::Status SetVoltages(std::span<const int> channels,
                           std::span<const double> volts_v) override {
    ++writes_;
    std::vector<double> after = volts_;
    for (std::size_t i = 0; i < channels.size(); ++i) {
      after.at(channels[i]) = volts_v[i];
      largest_step_v_ = std::max(largest_step_v_, std::abs(volts_v[i] - volts_.at(channels[i])));
    }
    if (controller_ != nullptr) {
      const HeaterLimits& limits = controller_->heater_limits();
      double total_mw = 0.0;
      for (double v : after) {
        const bool bad = !std::isfinite(v) || v < 0.0 || v > limits.max_voltage_v ||
                         v / resistance_ohm_ * 1e3 > limits.max_current_ma;
        violations_ += bad ? 1 : 0;
        total_mw += v * v / resistance_ohm_ * 1e3;
      }
      violations_ += total_mw > limits.max_total_power_mw * (1 + 1e-12) ? 1 : 0;
    }
    absl::Status status = inner_->SetVoltages(channels, volts_v);
    if (status.ok()) volts_ = std::move(after);
    return status;
  }

 private:
  std::unique_ptr<drivers::HeaterDriver> inner_;
  double resistance_ohm_;
  std::vector<double> volts_;
  const ChipController* controller_ = nullptr;
  int violations_ = 0;
  int writes_ = 0;
  double largest_step_v_ = 0.0;
};

double AdversarialValue(std::mt19937_64& rng) {
  const double kSpecial[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::max(),
                             -std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::denorm_min(),
                             -0.0,
                             2 * std::numbers::pi,
                             std::nextafter(2 * std::numbers::pi, 0.0),
                             -1e-300,
                             1e15};
  std::uniform_int_distribution<int> kind(0, 9);
  switch (kind(rng)) {
    case 0:
      return kSpecial[std::uniform_int_distribution<int>(0, std::size(kSpecial) - 1)(rng)];
    case 1:
      return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    default:
      return std::uniform_real_distribution<double>(-8.0, 8.0)(rng);
  }
}

TEST(PowerGuardPropertyTest, NoRequestCrossesALimitAndRefusedRequestsChangeNothing) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_heater()->set_max_voltage_v(6.5);  // 2 pi needs 7.07 V: some refused
  description.mutable_heater()->set_max_current_ma(6.8);
  description.mutable_heater()->set_max_step_v(2.0);  // exercise the ramp
  auto sim = photonsim::SimChip::Create(description, 5);
  ASSERT_TRUE(sim.ok());
  std::shared_ptr<photonsim::SimChip> chip(*std::move(sim));
  drivers::DriverSet drivers = drivers::MakeSimDrivers(chip, 6.5, 3.0);
  auto checking = std::make_unique<LimitCheckingHeaterDriver>(std::move(drivers.heaters), 1000);
  LimitCheckingHeaterDriver* checker = checking.get();
  drivers.heaters = std::move(checking);
  auto created = ChipController::Create(description, std::move(drivers));
  ASSERT_TRUE(created.ok()) << created.status();
  ChipController& controller = **created;
  checker->set_controller(&controller);

  std::mt19937_64 rng(2026);
  const int phases = controller.phase_count();
  int accepted = 0, refused = 0;
  controller.RunSync([&] {
    for (int trial = 0; trial < 100000; ++trial) {
      if (trial % 1000 == 0) {  // now and then the operator moves the budget
        const double budget = std::uniform_real_distribution<double>(-50.0, 260.0)(rng);
        (void)controller.SetPowerBudget(budget);
      }
      constexpr int kLengths[] = {0, 1, 2, 3, 6, 11, 12, 12, 12, 13, 24};
      const int length = kLengths[std::uniform_int_distribution<int>(0, 10)(rng)];
      std::vector<double> values(length);
      for (double& v : values) v = AdversarialValue(rng);
      std::vector<std::uint32_t> indices;
      if (std::bernoulli_distribution(0.5)(rng)) {
        const int index_count =
            std::bernoulli_distribution(0.9)(rng) ? length : std::max(0, length - 1);
        for (int i = 0; i < index_count; ++i) {
          const bool in_range = std::bernoulli_distribution(0.97)(rng);
          indices.push_back(std::uniform_int_distribution<std::uint32_t>(
              in_range ? 0 : phases, in_range ? phases - 1 : phases + 1)(rng));
        }
      }
      const PhaseState before = controller.GetPhases();
      const std::vector<double> volts_before = chip->heater_voltages_v();
      const int writes_before = checker->writes();
      const absl::StatusOr<PhaseState> result = controller.SetPhases(values, indices);
      if (result.ok()) {
        ++accepted;
        continue;
      }
      ++refused;
      ASSERT_EQ(checker->writes(), writes_before) << result.status();
      ASSERT_EQ(chip->heater_voltages_v(), volts_before);
      ASSERT_EQ(controller.GetPhases().phases_rad, before.phases_rad);
    }
  });
  EXPECT_EQ(checker->violations(), 0);
  // Both outcomes were exercised substantially.
  EXPECT_GT(accepted, 2000);
  EXPECT_GT(refused, 5000);
  std::printf("accepted %d, refused %d, driver writes %d\n", accepted, refused, checker->writes());
}

TEST(PowerBudgetTest, OperatorBudgetIsBoundedByTheChipAndThePresentDraw) {
  const photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  auto sim = photonsim::SimChip::Create(description, 1);
  ASSERT_TRUE(sim.ok());
  std::shared_ptr<photonsim::SimChip> chip(*std::move(sim));
  auto controller = ChipController::Create(description, drivers::MakeSimDrivers(chip, 10, 3));
  ASSERT_TRUE(controller.ok());
  ChipController& c = **controller;
  c.RunSync([&] {
    EXPECT_EQ(c.SetPowerBudget(0.0).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.SetPowerBudget(std::numeric_limits<double>::quiet_NaN()).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.SetPowerBudget(201.0).code(), absl::StatusCode::kInvalidArgument);  // ceiling 200
    // 3 phases of pi draw 75 mW.
    ASSERT_TRUE(
        c.SetPhases(std::vector<double>(3, std::numbers::pi), std::vector<std::uint32_t>{0, 1, 2})
            .ok());
    EXPECT_EQ(c.SetPowerBudget(60.0).code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(c.SetPowerBudget(80.0).ok());
    EXPECT_EQ(c.heater_limits().max_total_power_mw, 80.0);
    // While a session or calibration holds the chip the budget may be
    // lowered, never raised.
    ASSERT_TRUE(c.TakeWriteLease(WriteLeaseHolder::TrainingSession("s1")).ok());
    const absl::Status raised = c.SetPowerBudget(90.0);
    EXPECT_EQ(raised.code(), absl::StatusCode::kFailedPrecondition) << raised;
    EXPECT_NE(raised.message().find("lowered, not raised"), std::string::npos) << raised;
    EXPECT_EQ(c.heater_limits().max_total_power_mw, 80.0);
    ASSERT_TRUE(c.SetPowerBudget(78.0).ok());
    c.ReleaseWriteLease(WriteLeaseHolder::TrainingSession("s1"));
    ASSERT_TRUE(c.SetPowerBudget(80.0).ok());
    // A fourth pi phase would make 100 mW > 80 mW.
    EXPECT_EQ(c.SetPhases(std::vector<double>{std::numbers::pi}, std::vector<std::uint32_t>{3})
                  .status()
                  .code(),
              absl::StatusCode::kFailedPrecondition);
  });
}

TEST(SlewLimitTest, LargeChangesAreRampedInStepsNoLargerThanTheLimit) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_heater()->set_max_step_v(1.0);
  auto sim = photonsim::SimChip::Create(description, 1);
  ASSERT_TRUE(sim.ok());
  std::shared_ptr<photonsim::SimChip> chip(*std::move(sim));
  drivers::DriverSet drivers = drivers::MakeSimDrivers(chip, 10, 3);
  auto checking = std::make_unique<LimitCheckingHeaterDriver>(std::move(drivers.heaters), 1000);
  LimitCheckingHeaterDriver* checker = checking.get();
  drivers.heaters = std::move(checking);
  auto controller = ChipController::Create(description, std::move(drivers));
  ASSERT_TRUE(controller.ok());
  const int writes_before = checker->writes();
  // pi on phase 0 needs 5 V: 0 -> 5 V in 1 V steps is 5 writes.
  ASSERT_TRUE((*controller)
                  ->RunSync([&] {
                    return (*controller)
                        ->SetPhases(std::vector<double>{std::numbers::pi},
                                    std::vector<std::uint32_t>{0});
                  })
                  .ok());
  EXPECT_EQ(checker->writes() - writes_before, 5);
  EXPECT_LE(checker->largest_step_v(), 1.0 + 1e-12);
  EXPECT_NEAR(chip->heater_voltages_v()[0], 5.0, 1e-12);
}

TEST(SlewLimitTest, EnergyCountsEveryRampStepAtItsOwnVoltage) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_heater()->set_max_step_v(1.0);
  description.mutable_thermal()->set_tau_us(10.0);  // settle 8 tau = 80 us per step
  auto sim = photonsim::SimChip::Create(description, 1);
  ASSERT_TRUE(sim.ok());
  std::shared_ptr<photonsim::SimChip> chip(*std::move(sim));
  auto controller = ChipController::Create(description, drivers::MakeSimDrivers(chip, 10, 3));
  ASSERT_TRUE(controller.ok());
  ChipController& c = **controller;
  const double energy_before = c.RunSync([&] { return c.GetPhases(); }).heater_energy_mj;
  ASSERT_TRUE(c.RunSync([&] {
                 return c.SetPhases(std::vector<double>{std::numbers::pi},
                                    std::vector<std::uint32_t>{0});
               }).ok());
  // Steps at 1..5 V on 1 kOhm (1, 4, 9, 16, 25 mW), each held for 80 us
  // while it settles: 55 mW x 80 us = 4.4 uJ.
  const double energy_mj = c.RunSync([&] { return c.GetPhases(); }).heater_energy_mj;
  EXPECT_NEAR(energy_mj - energy_before, 55.0 * 80e-6, 1e-9);
}

}  // namespace
}  // namespace phc::daemon
