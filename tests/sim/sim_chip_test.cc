#include "photonsim/sim_chip.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <numeric>
#include <random>

#include "photonsim/chip_description.h"
#include "tests/test_chips.h"

namespace photonsim {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

std::vector<int> AllChannels(int count) {
  std::vector<int> channels(count);
  std::iota(channels.begin(), channels.end(), 0);
  return channels;
}

std::unique_ptr<SimChip> MakeChip(const photonic::v1::ChipDescription& description,
                                  std::uint64_t seed = 1) {
  auto chip = SimChip::Create(description, seed);
  EXPECT_TRUE(chip.ok()) << chip.status();
  return chip.ok() ? *std::move(chip) : nullptr;
}

// Sample mean and variance of repeated single-conversion reads of output k.
std::pair<double, double> MeanAndVariance(SimChip& chip, int output, int reads, int averages = 1) {
  double sum = 0.0, sum_sq = 0.0;
  for (int r = 0; r < reads; ++r) {
    const double x = chip.ReadPhotocurrentsA(averages)[output];
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / reads;
  return {mean, (sum_sq - reads * mean * mean) / (reads - 1)};
}

TEST(SimChipTest, RejectsInvalidDescription) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  chip.mutable_heater()->set_resistance_ohm(-1);
  const auto created = SimChip::Create(chip, 1);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("heater.resistance_ohm"), std::string::npos);
}

TEST(SimChipTest, IdealChipFollowsHeaterLawModulatorLawAndMeshPhysics) {
  constexpr int kN = 4;
  auto chip = MakeChip(phc::testing::IdealMeshChip(kN));
  // phase = pi / P_pi * V^2 / R with P_pi = 25 mW, R = 1 kOhm.
  std::vector<double> volts(chip->heater_count()), phases(chip->heater_count());
  for (int i = 0; i < chip->heater_count(); ++i) {
    volts[i] = 0.5 + 0.45 * i;
    phases[i] = std::numbers::pi / 25.0 * (volts[i] * volts[i] / 1000.0 * 1e3);
  }
  chip->SetHeaterVoltages(AllChannels(chip->heater_count()), volts);
  // t = sin(pi/2 V / V_pi), V_pi = 2.5 V.
  const std::vector<double> modulator_volts = {2.5, 1.25, 0.0, 2.5};
  chip->SetModulatorVoltages(modulator_volts);

  MziMesh reference = MziMesh::Clements(kN);
  reference.SetPhases(phases);
  VectorXc inputs(kN);
  for (int i = 0; i < kN; ++i)
    inputs(i) = std::sin(std::numbers::pi / 2 * modulator_volts[i] / 2.5);
  const VectorXc outputs = reference.TransferMatrix() * inputs;
  const std::vector<double> currents = chip->ReadPhotocurrentsA(1);
  double total_mw = 0.0;
  for (int k = 0; k < kN; ++k) {
    const double expected_a = 0.9 * std::norm(outputs(k)) * 1e-3 + 1e-9;
    EXPECT_NEAR(currents[k], expected_a, 1e-12 * expected_a) << "output " << k;
    total_mw += (currents[k] - 1e-9) / 0.9 * 1e3;
  }
  EXPECT_NEAR(total_mw, 2.5, 1e-9);  // lossless: 1 + 0.5 + 0 + 1 mW in, all out
}

photonic::v1::ChipDescription FabricatedChip() {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(8);
  auto* fab = chip.mutable_fabrication();
  fab->set_resistance_spread(0.05);
  fab->set_efficiency_spread(0.05);
  fab->set_random_phase_bias(true);
  fab->set_splitting_error_std_rad(0.02);
  fab->set_insertion_loss_db_mean(0.2);
  fab->set_insertion_loss_db_std(0.05);
  fab->set_responsivity_spread(0.03);
  return chip;
}

// The audit judges what the heaters received with the hidden resistances:
// I = V / R_i, P = sum V^2 / R_i, the maxima over the window, and whether
// every heater was at 0 V at some moment of it.
TEST(SimChipTest, HeaterAuditReportsTrueCurrentsAndPowersOverItsWindow) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_fabrication()->set_resistance_spread(0.05);
  auto chip = MakeChip(description, 7);
  const std::vector<double>& r = chip->hidden_truth_for_testing().heater_resistance_ohm;
  EXPECT_TRUE(chip->TakeHeaterAudit().was_safe);  // a new chip is at 0 V

  const std::vector<int> first = {0, 1};
  const std::vector<double> first_v = {3.0, 2.0};
  chip->SetHeaterVoltages(first, first_v);
  const std::vector<int> second = {0};
  const std::vector<double> second_v = {1.0};
  chip->SetHeaterVoltages(second, second_v);
  const SimChip::HeaterAudit audit = chip->TakeHeaterAudit();
  EXPECT_EQ(audit.writes, 2);
  EXPECT_DOUBLE_EQ(audit.max_volts_v, 3.0);
  EXPECT_EQ(audit.max_volts_channel, 0);
  const double i0 = 3.0 / r[0] * 1e3, i1 = 2.0 / r[1] * 1e3;
  EXPECT_NEAR(audit.max_current_ma, std::max(i0, i1), 1e-12);
  EXPECT_EQ(audit.max_current_channel, i0 > i1 ? 0 : 1);
  const double peak_mw = (9.0 / r[0] + 4.0 / r[1]) * 1e3;
  const double now_mw = (1.0 / r[0] + 4.0 / r[1]) * 1e3;
  EXPECT_NEAR(audit.max_total_power_mw, peak_mw, 1e-9);
  EXPECT_NEAR(audit.total_power_mw, now_mw, 1e-9);
  EXPECT_TRUE(audit.was_safe);  // the window began at 0 V

  // The next window starts at the present state: its maxima include it.
  const SimChip::HeaterAudit idle = chip->TakeHeaterAudit();
  EXPECT_EQ(idle.writes, 0);
  EXPECT_NEAR(idle.max_total_power_mw, now_mw, 1e-9);
  EXPECT_DOUBLE_EQ(idle.max_volts_v, 2.0);
  EXPECT_FALSE(idle.was_safe);

  const std::vector<int> both = {0, 1};
  const std::vector<double> zeros = {0.0, 0.0};
  chip->SetHeaterVoltages(both, zeros);
  chip->SetHeaterVoltages(second, second_v);
  const SimChip::HeaterAudit after = chip->TakeHeaterAudit();
  EXPECT_TRUE(after.was_safe);  // all at 0 V between the two writes
  EXPECT_NEAR(after.total_power_mw, 1.0 / r[0] * 1e3, 1e-9);
}

TEST(SimChipTest, SameSeedGivesSameChipAndDifferentSeedADifferentOne) {
  const HiddenTruth a = DrawHiddenTruth(FabricatedChip(), 42);
  const HiddenTruth b = DrawHiddenTruth(FabricatedChip(), 42);
  const HiddenTruth c = DrawHiddenTruth(FabricatedChip(), 43);
  EXPECT_EQ(a.heater_resistance_ohm, b.heater_resistance_ohm);
  EXPECT_EQ(a.phase_bias_rad, b.phase_bias_rad);
  EXPECT_EQ(a.splitting_error_rad, b.splitting_error_rad);
  EXPECT_EQ(a.mzi_amplitude, b.mzi_amplitude);
  EXPECT_NE(a.heater_resistance_ohm, c.heater_resistance_ohm);
  EXPECT_NE(a.heater_efficiency_rad_per_mw, c.heater_efficiency_rad_per_mw);
  EXPECT_NE(a.phase_bias_rad, c.phase_bias_rad);
  EXPECT_NE(a.splitting_error_rad, c.splitting_error_rad);
  // Spreads are what the description asks for (56 heaters: loose bounds).
  const double mean_r =
      std::accumulate(a.heater_resistance_ohm.begin(), a.heater_resistance_ohm.end(), 0.0) /
      a.heater_resistance_ohm.size();
  EXPECT_NEAR(mean_r, 1000.0, 30.0);
}

// DAT's static phase error: phi0 ~ N(0, sigma) when the bias is not uniform.
// A 64-mode mesh has 4,032 shifters: the sample standard deviation is within
// 5 % of sigma (its own standard error is 1.1 %) and the mean within 4
// standard errors of 0.
TEST(SimChipTest, GaussianPhaseBiasHasTheConfiguredSpread) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(64);
  chip.mutable_fabrication()->set_phase_bias_std_rad(0.04);
  const HiddenTruth truth = DrawHiddenTruth(chip, 7);
  const std::vector<double>& bias = truth.phase_bias_rad;
  ASSERT_EQ(bias.size(), 4032u);
  const double n = static_cast<double>(bias.size());
  const double mean = std::accumulate(bias.begin(), bias.end(), 0.0) / n;
  double square = 0.0;
  for (const double b : bias) square += (b - mean) * (b - mean);
  EXPECT_NEAR(std::sqrt(square / (n - 1)), 0.04, 0.002);
  EXPECT_NEAR(mean, 0.0, 4 * 0.04 / std::sqrt(n));
  // Unset, the bias stays 0 (the draws of older descriptions are unchanged).
  EXPECT_EQ(DrawHiddenTruth(phc::testing::IdealMeshChip(64), 7).phase_bias_rad,
            std::vector<double>(4032, 0.0));
}

TEST(SimChipTest, CrosstalkShiftsNeighboursByTheConfiguredFraction) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_thermal()->set_crosstalk_nearest(0.05);
  description.mutable_thermal()->set_crosstalk_decay_pitch(1.0);
  description.mutable_thermal()->set_crosstalk_cutoff_pitch(3.0);
  auto chip = MakeChip(description);
  // Heat theta of MZI 0 (phase 0) with 10 mW: V = sqrt(10 mW * 1 kOhm).
  chip->SetHeaterVoltages(std::vector<int>{0}, std::vector<double>{std::sqrt(10.0)});
  const std::vector<double> phases = chip->PhasesForTesting();
  const double eta = std::numbers::pi / 25.0;
  EXPECT_NEAR(phases[0], eta * 10.0, 1e-12);
  // phi of MZI 0 sits one pitch away: 5 % of the power.
  EXPECT_NEAR(phases[1], eta * 10.0 * 0.05, 1e-12);
  // MZI 0 is at column 0, mode 0; MZI 2 (column 1, mode 1) has phi at
  // (2, 1): sqrt(2) pitches from theta 0 at (1, 0).
  EXPECT_NEAR(phases[5], eta * 10.0 * 0.05 * std::exp(-(std::sqrt(2.0) - 1.0)), 1e-12);
  // MZI 1 (column 0, mode 2) theta at (1, 2): 2 pitches.
  EXPECT_NEAR(phases[2], eta * 10.0 * 0.05 * std::exp(-1.0), 1e-12);
}

// A trimmed (passive) shifter: its designed phase with no heater. Phase 1
// (phi of MZI 0) is trimmed next to heated theta 0 (one pitch away).
photonic::v1::ChipDescription TrimmedCrosstalkChip() {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_thermal()->set_crosstalk_nearest(0.05);
  description.mutable_thermal()->set_crosstalk_decay_pitch(1.0);
  description.mutable_thermal()->set_crosstalk_cutoff_pitch(3.0);
  auto* trim = description.add_trimmed_phases();
  trim->set_phase(1);
  trim->set_phase_rad(2.0);
  return description;
}

TEST(SimChipTest, TrimmedShifterHoldsItsPhaseDrawsNoPowerAndHeatsNoNeighbour) {
  auto chip = MakeChip(TrimmedCrosstalkChip());
  const double eta = std::numbers::pi / 25.0;
  // At 0 V everywhere the trimmed phase is its designed value.
  EXPECT_NEAR(chip->PhasesForTesting()[1], 2.0, 1e-12);
  // Volts on its channel reach no heater: no power, no phase, no crosstalk
  // (theta 0, one pitch away, stays at 0).
  chip->SetHeaterVoltages(std::vector<int>{1}, std::vector<double>{3.0});
  EXPECT_EQ(chip->TakeHeaterAudit().total_power_mw, 0.0);
  std::vector<double> phases = chip->PhasesForTesting();
  EXPECT_NEAR(phases[1], 2.0, 1e-12);
  EXPECT_EQ(phases[0], 0.0);
  // A powered neighbour still heats it: theta 0 at 10 mW adds 5 % of it.
  chip->SetHeaterVoltages(std::vector<int>{0, 1}, std::vector<double>{std::sqrt(10.0), 0.0});
  phases = chip->PhasesForTesting();
  EXPECT_NEAR(phases[0], eta * 10.0, 1e-12);
  EXPECT_NEAR(phases[1], 2.0 + eta * 10.0 * 0.05, 1e-12);
}

// The paper's multiplicative error: a trimmed phase is phi (1 + gamma), with
// the same relative error a heater's efficiency gets, and the same draws
// (a chip with trims is the same chip otherwise). The trim set the phase
// after fabrication: no phase bias remains on it.
TEST(SimChipTest, TrimmedPhaseCarriesTheEfficiencySpreadAsItsRelativeError) {
  photonic::v1::ChipDescription plain = phc::testing::IdealMeshChip(4);
  plain.mutable_fabrication()->set_efficiency_spread(0.05);
  plain.mutable_fabrication()->set_phase_bias_std_rad(0.1);
  photonic::v1::ChipDescription trimmed = plain;
  auto* trim = trimmed.add_trimmed_phases();
  trim->set_phase(3);
  trim->set_phase_rad(4.0);
  const HiddenTruth a = DrawHiddenTruth(plain, 11), b = DrawHiddenTruth(trimmed, 11);
  EXPECT_EQ(a.heater_efficiency_rad_per_mw, b.heater_efficiency_rad_per_mw);
  const double relative = a.heater_efficiency_rad_per_mw[3] / (std::numbers::pi / 25.0);
  EXPECT_GT(std::abs(relative - 1.0), 1e-4);  // a real draw, not the nominal
  EXPECT_NEAR(b.trimmed_phase_rad[3], 4.0 * relative, 1e-12);
  EXPECT_NE(a.phase_bias_rad[3], 0.0);
  EXPECT_EQ(b.phase_bias_rad[3], 0.0);
  EXPECT_EQ(b.phase_bias_rad[2], a.phase_bias_rad[2]);
  EXPECT_TRUE(std::isinf(b.heater_resistance_ohm[3]));
  EXPECT_EQ(b.trimmed_phase_rad[2], 0.0);
  EXPECT_EQ(b.heater_resistance_ohm[2], a.heater_resistance_ohm[2]);
  auto chip = MakeChip(trimmed, 11);
  EXPECT_NEAR(chip->PhasesForTesting()[3], 4.0 * relative, 1e-12);
}

TEST(SimChipTest, RejectsTrimsOutOfRangeTwiceOrOffTheCircle) {
  auto message = [](const photonic::v1::ChipDescription& chip) {
    const absl::Status status = ValidateChipDescription(chip);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);  // 12 phases
  chip.add_trimmed_phases()->set_phase(12);
  EXPECT_NE(message(chip).find("trimmed_phases[0].phase must be below the phase count 12"),
            std::string::npos);
  chip.mutable_trimmed_phases(0)->set_phase(5);
  chip.add_trimmed_phases()->set_phase(5);
  EXPECT_NE(message(chip).find("trimmed_phases[1].phase must be listed once"), std::string::npos);
  chip.mutable_trimmed_phases(1)->set_phase(6);
  chip.mutable_trimmed_phases(1)->set_phase_rad(2.0 * std::numbers::pi);
  EXPECT_NE(message(chip).find("trimmed_phases[1].phase_rad must be in [0, 2 pi)"),
            std::string::npos);
  chip.mutable_trimmed_phases(1)->set_phase_rad(-0.1);
  EXPECT_NE(message(chip).find("phase_rad"), std::string::npos);
  chip.mutable_trimmed_phases(1)->set_phase_rad(6.0);
  EXPECT_TRUE(ValidateChipDescription(chip).ok());
}

TEST(SimChipTest, PhaseSettlesAsOneMinusExpOfMinusTOverTau) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_thermal()->set_tau_us(5.0);
  auto chip = MakeChip(description);
  const double eta = std::numbers::pi / 25.0;
  chip->SetHeaterVoltages(std::vector<int>{3}, std::vector<double>{std::sqrt(20.0)});  // 20 mW
  EXPECT_EQ(chip->PhasesForTesting()[3], 0.0);  // nothing has happened yet
  double elapsed_us = 0.0;
  for (double step_us : {1.0, 2.0, 4.0, 8.0, 16.0}) {
    chip->Advance(nanoseconds(static_cast<std::int64_t>(step_us * 1e3)));
    elapsed_us += step_us;
    EXPECT_NEAR(chip->PhasesForTesting()[3], eta * 20.0 * (1.0 - std::exp(-elapsed_us / 5.0)),
                1e-12)
        << "t = " << elapsed_us << " us";
  }
}

TEST(SimChipTest, ReadingRightAfterAWriteSeesTheUnsettledChip) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_thermal()->set_tau_us(5.0);
  auto chip = MakeChip(description);
  chip->SetModulatorVoltages(std::vector<double>{2.5, 0.0});
  const std::vector<double> before = chip->ReadPhotocurrentsA(1);
  // theta = pi: cross -> bar, but the heater has not warmed up yet.
  chip->SetHeaterVoltages(std::vector<int>{0}, std::vector<double>{5.0});
  EXPECT_EQ(chip->ReadPhotocurrentsA(1), before);
  chip->Advance(microseconds(100));  // 20 tau
  const std::vector<double> after = chip->ReadPhotocurrentsA(1);
  EXPECT_NEAR(after[0], 0.9e-3 + 1e-9, 1e-9);  // all light now in the bar port
  EXPECT_NEAR(before[1], 0.9e-3 + 1e-9, 1e-9);
}

photonic::v1::ChipDescription NoisyTwoModeChip(double temperature_k) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  auto* detector = description.mutable_detector();
  detector->set_dark_current_na(0);
  detector->set_tia_gain_ohm(1000);
  detector->set_bandwidth_hz(1e9);
  detector->set_temperature_k(temperature_k);
  detector->set_adc_bits(24);
  detector->set_adc_full_scale_v(2.0);
  detector->set_sample_time_us(1.0);
  return description;
}

TEST(SimChipTest, ShotNoiseVarianceIsTwoQIBAndScalesWithMeanCurrent) {
  auto chip = MakeChip(NoisyTwoModeChip(0.0));  // no thermal noise
  // All MZIs cross: input 0 arrives at output 1.
  constexpr int kReads = 4000;
  chip->SetModulatorVoltages(std::vector<double>{2.5, 0.0});  // 1 mW
  const auto [mean_full, var_full] = MeanAndVariance(*chip, 1, kReads);
  chip->SetModulatorVoltages(std::vector<double>{2.5 / 3.0, 0.0});  // sin^2(pi/6) = 1/4 mW
  const auto [mean_quarter, var_quarter] = MeanAndVariance(*chip, 1, kReads);
  EXPECT_NEAR(mean_full, 0.9e-3, 1e-7);
  EXPECT_NEAR(mean_quarter, 0.9e-3 / 4, 1e-7);
  // A sample variance of n Gaussian draws has relative sd sqrt(2/n) = 2.2 %;
  // allow 5 sd.
  const double shot_full = 2 * kElectronCharge_C * mean_full * 1e9;
  EXPECT_NEAR(var_full / shot_full, 1.0, 0.11);
  EXPECT_NEAR(var_full / var_quarter, mean_full / mean_quarter, 0.11 * 4 * 1.5);
}

TEST(SimChipTest, DarkChipShowsTheTiaJohnsonNoiseFloor) {
  auto chip = MakeChip(NoisyTwoModeChip(300.0));
  const auto [mean, variance] = MeanAndVariance(*chip, 0, 4000);
  const double johnson = 4 * kBoltzmann_J_per_K * 300.0 * 1e9 / 1000.0;
  EXPECT_NEAR(variance / johnson, 1.0, 0.11);
  EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(johnson / 4000));
}

TEST(SimChipTest, AveragingDividesTheVarianceByTheNumberOfConversions) {
  auto chip = MakeChip(NoisyTwoModeChip(300.0));
  chip->SetModulatorVoltages(std::vector<double>{2.5, 0.0});
  const auto [mean1, var1] = MeanAndVariance(*chip, 1, 3000, 1);
  const auto [mean16, var16] = MeanAndVariance(*chip, 1, 3000, 16);
  EXPECT_NEAR(var1 / var16, 16.0, 16.0 * 0.13);
  EXPECT_NEAR(mean16, mean1, 5 * std::sqrt(var1 / 3000));
  // Each conversion takes sample_time_us of virtual time.
  const auto t0 = chip->now();
  chip->ReadPhotocurrentsA(16);
  EXPECT_EQ(chip->now() - t0, microseconds(16));
}

TEST(SimChipTest, AdcSaturatesAtFullScale) {
  photonic::v1::ChipDescription description = NoisyTwoModeChip(0.0);
  description.set_laser_power_mw(10.0);  // 9 mA * 1 kOhm = 9 V > 2 V full scale
  auto chip = MakeChip(description);
  chip->SetModulatorVoltages(std::vector<double>{2.5, 0.0});
  const double lsb_a = 2.0 / std::ldexp(1.0, 23) / 1000.0;
  const double full_scale_a = (std::ldexp(1.0, 23) - 1) * lsb_a;
  for (int r = 0; r < 5; ++r) EXPECT_DOUBLE_EQ(chip->ReadPhotocurrentsA(1)[1], full_scale_a);
}

TEST(SimChipTest, InsertionLossAttenuatesByItsDecibels) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_fabrication()->set_insertion_loss_db_mean(0.5);
  auto chip = MakeChip(description);
  chip->SetModulatorVoltages(std::vector<double>{2.5, 0.0});
  EXPECT_NEAR(chip->ReadPhotocurrentsA(1)[1], 0.9e-3 * std::pow(10.0, -0.05) + 1e-9, 1e-15);
}

TEST(SimChipTest, TemperatureShiftsEveryPhaseByTheDriftCoefficient) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  description.mutable_thermal()->set_phase_drift_rad_per_k(0.07);
  auto chip = MakeChip(description);
  chip->SetTecSetpointC(26.5);
  for (double phase : chip->PhasesForTesting()) EXPECT_NEAR(phase, 0.07 * 1.5, 1e-12);
}

TEST(SimChipTest, TecHoldsTemperatureWithItsStatedStability) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_tec()->set_stability_k(0.01);
  description.mutable_tec()->set_time_constant_s(1.0);
  auto chip = MakeChip(description);
  double sum = 0.0, sum_sq = 0.0;
  constexpr int kSamples = 3000;
  for (int i = 0; i < kSamples; ++i) {
    chip->Advance(std::chrono::seconds(5));  // independent draws
    const double offset = chip->temperature_c() - 25.0;
    sum += offset;
    sum_sq += offset * offset;
  }
  EXPECT_NEAR(std::sqrt(sum_sq / kSamples), 0.01, 0.01 * 0.07);
  EXPECT_NEAR(sum / kSamples, 0.0, 5 * 0.01 / std::sqrt(kSamples));
}

TEST(SimChipTest, DacQuantisesHeaterVoltages) {
  photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(2);
  description.mutable_heater()->set_dac_bits(8);
  auto chip = MakeChip(description);
  chip->SetHeaterVoltages(std::vector<int>{0}, std::vector<double>{1.234});
  const double lsb = 10.0 / 255.0;
  EXPECT_NEAR(chip->heater_voltages_v()[0], std::round(1.234 / lsb) * lsb, 1e-15);
}

}  // namespace
}  // namespace photonsim

namespace photonsim {
namespace {

// The optics follow the true phases through many small writes, settling
// tails, crosstalk and drift (TEC setpoint steps and wander), although the
// chip rebuilds only what moved: every reading equals the analytic one from
// the true phases (PhasesForTesting) to the phase resolution.
TEST(SimChipTest, IncrementalOpticsFollowTheTruePhasesThroughWritesSettlingAndDrift) {
  photonic::v1::ChipDescription description = FabricatedChip();
  auto* thermal = description.mutable_thermal();
  thermal->set_crosstalk_nearest(0.05);
  thermal->set_crosstalk_decay_pitch(1.5);
  thermal->set_crosstalk_cutoff_pitch(3);
  thermal->set_tau_us(5);
  thermal->set_phase_drift_rad_per_k(0.07);
  description.mutable_tec()->set_stability_k(0.005);
  description.mutable_tec()->set_time_constant_s(10);
  auto chip = MakeChip(description, 7);
  ASSERT_NE(chip, nullptr);
  const HiddenTruth& truth = chip->hidden_truth_for_testing();
  constexpr int kN = 8;
  MziMesh reference = MziMesh::Clements(kN);
  reference.SetImperfections(truth.splitting_error_rad, truth.mzi_amplitude);
  const std::vector<double> modulator_volts = {2.5, 1.0, 0.0, 2.0, 1.5, 2.5, 0.5, 1.25};
  chip->SetModulatorVoltages(modulator_volts);
  VectorXc inputs(kN);
  double input_mw = 0.0;
  for (int i = 0; i < kN; ++i) {
    inputs(i) = std::sqrt(truth.laser_power_mw) *
                std::sin(std::numbers::pi / 2 * modulator_volts[i] / truth.modulator_v_pi_v);
    input_mw += std::norm(inputs(i));
  }
  // Phase errors up to the resolution on 56 shifters move an output by at
  // most ~2 * 56 * 1e-6 of the input power.
  const double tolerance_a = 0.9 * 1.1 * input_mw * 1e-3 * 2 * 56 * kOpticsPhaseResolutionRad;

  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int> channel(0, chip->heater_count() - 1);
  std::uniform_real_distribution<double> volts(0.0, 5.0);
  std::uniform_int_distribution<int> wait_us(0, 40);
  double worst_a = 0.0;
  for (int step = 0; step < 400; ++step) {
    const int writes = step % 5;  // 0..4 heaters, some steps only wait
    std::vector<int> channels;
    std::vector<double> values;
    for (int w = 0; w < writes; ++w) {
      channels.push_back(channel(rng));
      values.push_back(volts(rng));
    }
    chip->SetHeaterVoltages(channels, values);
    if (step % 50 == 25) chip->SetTecSetpointC(25.0 + 0.01 * (step / 50));
    chip->Advance(step % 97 == 0 ? std::chrono::seconds(2) : microseconds(wait_us(rng)));
    reference.SetPhases(chip->PhasesForTesting());
    const VectorXc outputs = reference.TransferMatrix() * inputs;
    const std::vector<double> currents = chip->ReadPhotocurrentsA(1);
    for (int k = 0; k < kN; ++k) {
      const double expected_a =
          truth.responsivity_a_per_w[k] * std::norm(outputs(k)) * 1e-3 + truth.dark_current_a[k];
      worst_a = std::max(worst_a, std::abs(currents[k] - expected_a));
      ASSERT_NEAR(currents[k], expected_a, tolerance_a) << "step " << step << " output " << k;
    }
  }
  // Far tighter than the bound in practice.
  EXPECT_LT(worst_a, tolerance_a / 4);
}

}  // namespace
}  // namespace photonsim
