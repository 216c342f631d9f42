// HeaterBank: a plan that re-derives only the moved phases equals a plan
// of every phase bit for bit, only moved channels are written, and with
// crosstalk every channel is planned again. PowerGuard's DAC and
// reachability judgements.
#include "daemon/chip/heater_bank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <set>

#include "photonsim/phase.h"
#include "tests/manual_clock.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

class RecordingHeaterDriver final : public drivers::HeaterDriver {
 public:
  explicit RecordingHeaterDriver(int channels) : volts_(channels, 0.0) {}
  int channel_count() const override { return static_cast<int>(volts_.size()); }
  double max_voltage_v() const override { return 1e9; }
  absl::Status SetVoltages(std::span<const int> channels,
                           std::span<const double> volts_v) override {
    for (std::size_t i = 0; i < channels.size(); ++i) {
      volts_.at(channels[i]) = volts_v[i];
      written_.insert(channels[i]);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> ReadVoltages() override { return volts_; }
  // Channels written since the last call.
  std::set<int> TakeWritten() { return std::exchange(written_, {}); }

 private:
  std::vector<double> volts_;
  std::set<int> written_;
};

using phc::testing::ManualClock;

photonic::v1::ChipDescription BankChip() {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(8);
  chip.set_max_total_heater_power_mw(1e6);
  chip.mutable_heater()->set_max_voltage_v(100.0);
  chip.mutable_heater()->set_max_current_ma(1e3);
  chip.mutable_heater()->set_dac_bits(16);
  return chip;
}

// A calibration of the chip with random biases and efficiencies, and
// nearest-neighbour crosstalk `nearest` (0: none).
HeaterPhaseModel CalibratedModel(const photonic::v1::ChipDescription& chip, int phases,
                                 double nearest) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> bias(0.0, photonsim::kTwoPi), eff(0.1, 0.2);
  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  for (int i = 0; i < phases; ++i) {
    calibration.add_phase_bias_rad(bias(rng));
    calibration.add_efficiency_rad_per_mw(eff(rng));
  }
  calibration.set_crosstalk_nearest(nearest);
  calibration.set_crosstalk_decay_pitch(1.0);
  calibration.set_crosstalk_cutoff_pitch(2.0);
  absl::StatusOr<HeaterPhaseModel> model = HeaterPhaseModel::FromCalibration(chip, calibration);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

std::vector<double> RandomPhases(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> phase(0.0, photonsim::kTwoPi);
  std::vector<double> phases(n);
  for (double& p : phases) p = phase(rng);
  return phases;
}

struct Bank {
  explicit Bank(const photonic::v1::ChipDescription& chip, int channels)
      : driver(channels), bank(chip, driver, clock, std::chrono::microseconds(1), [] {}) {}
  RecordingHeaterDriver driver;
  ManualClock clock;
  HeaterBank bank;
};

TEST(HeaterBankTest, PlanningOnlyTheMovedPhasesEqualsPlanningEveryPhase) {
  const photonic::v1::ChipDescription chip = BankChip();
  const int n = 8 * 7;  // an 8-mode Clements mesh
  for (const bool calibrated : {false, true}) {
    SCOPED_TRACE(calibrated ? "calibrated without crosstalk" : "nominal");
    Bank incremental(chip, n), fresh(chip, n);
    if (calibrated) {
      incremental.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.0));
      fresh.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.0));
    }
    ASSERT_FALSE(incremental.bank.phase_model().has_crosstalk());
    std::mt19937_64 rng(3);
    std::vector<double> phases = RandomPhases(n, rng);
    absl::StatusOr<HeaterPlan> first = incremental.bank.Guard(phases);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(incremental.bank.Write(*first).ok());
    incremental.driver.TakeWritten();
    for (int step = 0; step < 20; ++step) {
      // A sparse step: three phases move.
      std::set<int> moved;
      std::uniform_int_distribution<int> pick(0, n - 1);
      while (moved.size() < 3) moved.insert(pick(rng));
      for (int i : moved) phases[i] = photonsim::WrapPhase(phases[i] + 0.1 * (step + 1));
      absl::StatusOr<HeaterPlan> plan = incremental.bank.Guard(phases);
      absl::StatusOr<HeaterPlan> full = fresh.bank.Guard(phases);  // plans every channel
      ASSERT_TRUE(plan.ok() && full.ok());
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(plan->volts_v[i], full->volts_v[i]) << "channel " << i << ", step " << step;
      }
      ASSERT_TRUE(incremental.bank.Write(*plan).ok());
      EXPECT_EQ(incremental.driver.TakeWritten(), moved) << "step " << step;
      EXPECT_EQ(incremental.bank.phases_rad(), phases);
    }
  }
}

TEST(HeaterBankTest, WithCrosstalkOneMovedPhaseReplansItsNeighbours) {
  const photonic::v1::ChipDescription chip = BankChip();
  const int n = 8 * 7;
  Bank bank(chip, n);
  bank.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.05));
  ASSERT_TRUE(bank.bank.phase_model().has_crosstalk());
  std::mt19937_64 rng(5);
  std::vector<double> phases = RandomPhases(n, rng);
  absl::StatusOr<HeaterPlan> first = bank.bank.Guard(phases);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(bank.bank.Write(*first).ok());
  bank.driver.TakeWritten();
  phases[20] = photonsim::WrapPhase(phases[20] + 0.5);
  absl::StatusOr<HeaterPlan> plan = bank.bank.Guard(phases);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(bank.bank.Write(*plan).ok());
  // The moved heater and the neighbours whose power compensates it.
  const std::set<int> written = bank.driver.TakeWritten();
  EXPECT_TRUE(written.contains(20));
  EXPECT_GT(written.size(), 1u);
  // Every phase the bank now reports is what the model gives for its volts.
  const PhaseState state = bank.bank.State();
  const std::vector<double> reached =
      bank.bank.phase_model().PhasesForPowers(state.heater_power_mw);
  for (int i = 0; i < n; ++i) {
    // 16-bit DAC over 100 V: the quantised power is within ~1e-3 mW.
    EXPECT_NEAR(std::remainder(reached[i] - phases[i], photonsim::kTwoPi), 0.0, 2e-3) << i;
  }
}

TEST(HeaterBankTest, ANewPhaseModelOrPowersWrittenDirectlyAreNeverReusedAsAPlan) {
  const photonic::v1::ChipDescription chip = BankChip();
  const int n = 8 * 7;
  Bank bank(chip, n), fresh(chip, n);
  std::mt19937_64 rng(9);
  const std::vector<double> phases = RandomPhases(n, rng);
  ASSERT_TRUE(bank.bank.Write(*bank.bank.Guard(phases)).ok());
  // The same phases under another model need other volts.
  bank.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.0));
  fresh.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.0));
  const std::vector<double> same_phases = bank.bank.phases_rad();
  absl::StatusOr<HeaterPlan> replanned = bank.bank.Guard(same_phases);
  absl::StatusOr<HeaterPlan> full = fresh.bank.Guard(same_phases);
  ASSERT_TRUE(replanned.ok() && full.ok());
  EXPECT_EQ(replanned->volts_v, full->volts_v);
  // Powers written directly (calibration) are not a phase plan either.
  ASSERT_TRUE(bank.bank.SetPowers(std::vector<double>(n, 1.0)).ok());
  replanned = bank.bank.Guard(bank.bank.phases_rad());
  full = fresh.bank.Guard(bank.bank.phases_rad());
  ASSERT_TRUE(replanned.ok() && full.ok());
  EXPECT_EQ(replanned->volts_v, full->volts_v);
}

TEST(HeaterBankTest, APlanFromAnEarlierPhaseModelIsRefusedAndChangesNothing) {
  const photonic::v1::ChipDescription chip = BankChip();
  const int n = 8 * 7;
  Bank bank(chip, n);
  std::mt19937_64 rng(11);
  absl::StatusOr<HeaterPlan> stale = bank.bank.Guard(RandomPhases(n, rng));
  ASSERT_TRUE(stale.ok()) << stale.status();
  bank.bank.InstallPhaseModel(CalibratedModel(chip, n, 0.0));
  const std::vector<double> before = bank.bank.phases_rad();
  const absl::Status refused = bank.bank.Write(*stale);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(bank.driver.TakeWritten().empty());
  EXPECT_EQ(bank.bank.phases_rad(), before);
}

TEST(HeaterBankTest, ANegativeZeroPhaseIsPlannedAsPlusZeroVolts) {
  // The serial drivers format volts as text: "-0.0000" must never be sent.
  const photonic::v1::ChipDescription chip = BankChip();
  Bank bank(chip, 8 * 7);
  std::vector<double> phases(8 * 7, 1.0);
  phases[0] = -0.0;
  phases[1] = -photonsim::kTwoPi;
  absl::StatusOr<std::vector<double>> wanted = bank.bank.PlanPhases(phases, {});
  ASSERT_TRUE(wanted.ok());
  absl::StatusOr<HeaterPlan> plan = bank.bank.Guard(*wanted);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->volts_v[0], 0.0);
  EXPECT_FALSE(std::signbit(plan->volts_v[0]));
  EXPECT_FALSE(std::signbit(plan->volts_v[1]));
}

// Phases 3 and 10 are trimmed (passive): no heater to drive.
photonic::v1::ChipDescription TrimmedBankChip() {
  photonic::v1::ChipDescription chip = BankChip();
  auto* trim = chip.add_trimmed_phases();
  trim->set_phase(3);
  trim->set_phase_rad(2.5);
  trim = chip.add_trimmed_phases();
  trim->set_phase(10);
  trim->set_phase_rad(5.0);
  return chip;
}

TEST(HeaterBankTest, TrimmedPhasesStayAtZeroVoltsAndRefuseAnyOtherPhase) {
  const photonic::v1::ChipDescription chip = TrimmedBankChip();
  const int n = 8 * 7;
  Bank bank(chip, n);
  EXPECT_EQ(bank.bank.phases_rad()[3], 2.5);
  EXPECT_EQ(bank.bank.phases_rad()[10], 5.0);
  EXPECT_EQ(bank.bank.phases_rad()[4], 0.0);
  // Named at their designed values (one of them a turn away): 0 V.
  std::vector<double> phases(n, 1.0);
  phases[3] = 2.5;
  phases[10] = 5.0 + photonsim::kTwoPi;
  absl::StatusOr<std::vector<double>> wanted = bank.bank.PlanPhases(phases, {});
  ASSERT_TRUE(wanted.ok()) << wanted.status();
  EXPECT_EQ((*wanted)[3], 2.5);
  EXPECT_EQ((*wanted)[10], 5.0);
  absl::StatusOr<HeaterPlan> plan = bank.bank.Guard(*wanted);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->volts_v[3], 0.0);
  EXPECT_EQ(plan->volts_v[10], 0.0);
  EXPECT_GT(plan->volts_v[4], 0.0);
  ASSERT_TRUE(bank.bank.Write(*plan).ok());
  EXPECT_EQ(bank.driver.TakeWritten().count(3), 0u);
  const std::vector<double> before = bank.bank.phases_rad();
  // Any other value is refused, in the full and the indexed form.
  phases[3] = 2.6;
  absl::StatusOr<std::vector<double>> moved = bank.bank.PlanPhases(phases, {});
  ASSERT_EQ(moved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(moved.status().message().find("phase 3 is trimmed"), std::string::npos)
      << moved.status();
  const std::vector<std::uint32_t> indices = {4, 10};
  moved = bank.bank.PlanPhases(std::vector<double>{1.5, 4.9}, indices);
  ASSERT_EQ(moved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(moved.status().message().find("phase 10 is trimmed"), std::string::npos);
  // Powers: a trimmed channel's must be 0.
  std::vector<double> powers(n, 1.0);
  powers[3] = 0.0;
  powers[10] = 0.5;
  const absl::Status refused = bank.bank.SetPowers(powers);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("phase 10 is trimmed"), std::string::npos);
  EXPECT_TRUE(bank.driver.TakeWritten().empty());
  EXPECT_EQ(bank.bank.phases_rad(), before);
  powers[10] = 0.0;
  ASSERT_TRUE(bank.bank.SetPowers(powers).ok());
  EXPECT_EQ(bank.bank.phases_rad()[10], 5.0);
}

TEST(HeaterBankTest, ATrimmedPhaseNearTheWrapIsPlannedAtExactlyItsDesignedValue) {
  photonic::v1::ChipDescription chip = TrimmedBankChip();
  chip.add_trimmed_phases()->set_phase(20);  // designed at 0 rad
  Bank bank(chip, 8 * 7);
  for (const double asked : {photonsim::kTwoPi - 1e-12, -1e-12, 0.0}) {
    absl::StatusOr<std::vector<double>> wanted =
        bank.bank.PlanPhases(std::vector<double>{asked}, std::vector<std::uint32_t>{20});
    ASSERT_TRUE(wanted.ok()) << asked << ": " << wanted.status();
    EXPECT_EQ((*wanted)[20], 0.0) << asked;
    EXPECT_EQ((*wanted)[3], 2.5);  // unnamed trimmed phases keep their value
  }
  const absl::StatusOr<std::vector<double>> off = bank.bank.PlanPhases(
      std::vector<double>{photonsim::kTwoPi - 1e-6}, std::vector<std::uint32_t>{20});
  EXPECT_EQ(off.status().code(), absl::StatusCode::kInvalidArgument);
}

// No calibration fits a trimmed chip; a crosstalk model installed anyway
// (here one fitted to the untrimmed chip) would give trimmed channels
// power, and the plan is refused before anything is written.
TEST(HeaterBankTest, APlanWithVoltsOnATrimmedChannelIsRefused) {
  const int n = 8 * 7;
  Bank bank(TrimmedBankChip(), n);
  bank.bank.InstallPhaseModel(CalibratedModel(BankChip(), n, 0.05));
  ASSERT_TRUE(bank.bank.phase_model().has_crosstalk());
  std::vector<double> phases(n, 1.0);
  phases[3] = 2.5;
  phases[10] = 5.0;
  absl::StatusOr<std::vector<double>> wanted = bank.bank.PlanPhases(phases, {});
  ASSERT_TRUE(wanted.ok()) << wanted.status();
  const absl::StatusOr<HeaterPlan> plan = bank.bank.Guard(*wanted);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(plan.status().message().find("trimmed channel"), std::string::npos) << plan.status();
  EXPECT_TRUE(bank.driver.TakeWritten().empty());
}

TEST(HeaterPhaseModelTest, ACalibrationDoesNotFitAChipWithTrimmedPhases) {
  const photonic::v1::ChipDescription chip = TrimmedBankChip();
  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  for (int i = 0; i < 8 * 7; ++i) {
    calibration.add_phase_bias_rad(0.0);
    calibration.add_efficiency_rad_per_mw(0.1);
  }
  const absl::StatusOr<HeaterPhaseModel> model =
      HeaterPhaseModel::FromCalibration(chip, calibration);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("trimmed"), std::string::npos);
}

TEST(PowerGuardDacTest, JudgesTheVoltsTheDacOutputsAndRefusesUnreachedPhases) {
  // 4 bits over 15 V: one code per volt.
  PowerGuard guard({.max_voltage_v = 15, .max_current_ma = 100, .max_total_power_mw = 1e4},
                   NominalHeaterModel(photonic::v1::HeaterSpec()), 4);
  EXPECT_EQ(guard.DacVolts(2.4), 2.0);
  EXPECT_EQ(guard.DacVolts(2.6), 3.0);
  EXPECT_EQ(guard.DacVolts(15.0), 15.0);
  PowerGuard exact({.max_voltage_v = 15, .max_current_ma = 100, .max_total_power_mw = 1e4},
                   NominalHeaterModel(photonic::v1::HeaterSpec()));
  EXPECT_EQ(exact.DacVolts(2.4), 2.4);

  EXPECT_TRUE(guard.CheckReached(3, 1.0, 1.0 + photonsim::kTwoPi).ok());
  const absl::Status missed = guard.CheckReached(3, 1.0, 1.1);
  EXPECT_EQ(missed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missed.message().find("phase 3"), std::string::npos) << missed;
  EXPECT_FALSE(guard.CheckReached(3, 1.0, std::nan("")).ok());
  EXPECT_EQ(guard.refusals()[static_cast<int>(GuardRefusal::kUnreachablePhase)], 2u);
}

}  // namespace
}  // namespace phc::daemon
