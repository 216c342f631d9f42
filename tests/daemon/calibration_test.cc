// Calibration against the simulator's hidden truth.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numbers>
#include <random>

#include "daemon/calibration/calibration_fit.h"
#include "daemon/calibration/calibrator.h"
#include "daemon/calibration/column_peeling.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/chip/heater_model.h"
#include "daemon/chip/heater_phase_model.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/phase.h"
#include "photonsim/sim_chip.h"
#include "tests/sim/random_unitary.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonsim::kTwoPi;

// Distance of two angles on the circle.
double AngleError(double a, double b) {
  const double d = std::fmod(std::abs(a - b), kTwoPi);
  return std::min(d, kTwoPi - d);
}

// A chip with fabrication errors the calibration models (biases, heater
// spreads, crosstalk) and realistic detection, optionally with the errors it
// does not model (coupler errors, loss).
photonic::v1::ChipDescription FabricatedChip(int n, bool unmodelled_errors) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(n);
  chip.set_max_total_heater_power_mw(100.0 * n * n);
  auto* fab = chip.mutable_fabrication();
  fab->set_resistance_spread(0.05);
  fab->set_efficiency_spread(0.05);
  fab->set_random_phase_bias(true);
  if (unmodelled_errors) {
    fab->set_splitting_error_std_rad(0.015);
    fab->set_insertion_loss_db_mean(0.2);
    fab->set_insertion_loss_db_std(0.05);
    fab->set_responsivity_spread(0.03);
  }
  auto* thermal = chip.mutable_thermal();
  thermal->set_crosstalk_nearest(0.03);
  thermal->set_crosstalk_decay_pitch(1.0);
  thermal->set_crosstalk_cutoff_pitch(3.0);
  thermal->set_tau_us(5.0);
  auto* detector = chip.mutable_detector();
  detector->set_tia_gain_ohm(250);
  detector->set_bandwidth_hz(1e6);
  detector->set_temperature_k(300);
  detector->set_adc_bits(16);
  detector->set_adc_full_scale_v(2.5);
  detector->set_sample_time_us(1);
  chip.mutable_heater()->set_dac_bits(16);
  return chip;
}

struct Bench {
  std::shared_ptr<photonsim::SimChip> sim;
  std::unique_ptr<ChipController> controller;
};

Bench MakeBench(const photonic::v1::ChipDescription& description, std::uint64_t seed) {
  Bench bench;
  auto sim = photonsim::SimChip::Create(description, seed);
  EXPECT_TRUE(sim.ok()) << sim.status();
  bench.sim = std::shared_ptr<photonsim::SimChip>(*std::move(sim));
  auto controller = ChipController::Create(
      description, drivers::MakeSimDrivers(bench.sim, description.heater().max_voltage_v(),
                                           description.modulator().max_voltage_v()));
  EXPECT_TRUE(controller.ok()) << controller.status();
  bench.controller = *std::move(controller);
  return bench;
}

TEST(HeaterPhaseModelTest, PowersForPhasesInvertsPhasesForPowersWithCrosstalk) {
  const photonic::v1::ChipDescription chip = FabricatedChip(4, false);
  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> phase(0, kTwoPi), eta(0.1, 0.15);
  for (int i = 0; i < 12; ++i) {
    calibration.add_phase_bias_rad(phase(rng));
    calibration.add_efficiency_rad_per_mw(eta(rng));
  }
  calibration.set_crosstalk_nearest(0.04);
  calibration.set_crosstalk_decay_pitch(1.0);
  calibration.set_crosstalk_cutoff_pitch(3.0);
  const absl::StatusOr<HeaterPhaseModel> model =
      HeaterPhaseModel::FromCalibration(chip, calibration);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<double> target = photonsim::testing::RandomPhases(12, 9);
  const std::vector<double> powers = model->PowersForPhases(target);
  for (double p : powers) EXPECT_GE(p, 0.0);
  const std::vector<double> back = model->PhasesForPowers(powers);
  for (int i = 0; i < 12; ++i) EXPECT_LT(AngleError(back[i], target[i]), 1e-9) << i;
}

TEST(HeaterPhaseModelTest, CalibrationForAnotherChipIsRejected) {
  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name("other");
  EXPECT_EQ(
      HeaterPhaseModel::FromCalibration(FabricatedChip(4, false), calibration).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// The column-peeling estimate alone, before any least-squares polish, on a
// 6x6 chip with random biases, coupler errors, loss, crosstalk and
// quantised detection, given the heaters' true efficiencies: every theta
// lands near its bias (no pi flips: those would show as ~3 rad errors), the
// phis near theirs.
TEST(ColumnPeelingTest, EstimatesEveryBiasOfAFabricatedMesh) {
  const photonic::v1::ChipDescription chip = FabricatedChip(6, true);
  Bench bench = MakeBench(chip, 4);
  const photonsim::HiddenTruth& truth = bench.sim->hidden_truth_for_testing();
  const photonsim::CircuitLayout& circuit = bench.controller->layout().circuits[0];
  std::vector<double> eta(circuit.phase_count);
  for (int i = 0; i < circuit.phase_count; ++i) {
    eta[i] = truth.heater_efficiency_rad_per_mw[i] * chip.heater().resistance_ohm() /
             truth.heater_resistance_ohm[i];
  }
  int readings = 0;
  const std::function<absl::Status()> go_on = [] { return absl::OkStatus(); };
  const absl::StatusOr<std::vector<double>> bias = bench.controller->RunSync([&] {
    return PeelMeshBiases(*bench.controller, circuit, eta, CrosstalkModel(chip, 0.03, 1.0, 3.0),
                          PeelOptions{}, go_on, &readings);
  });
  ASSERT_TRUE(bias.ok()) << bias.status();
  double theta2 = 0.0, phi2 = 0.0, worst = 0.0;
  for (int m = 0; m < circuit.phase_count / 2; ++m) {
    const double t = AngleError((*bias)[2 * m], truth.phase_bias_rad[2 * m]);
    const double p = AngleError((*bias)[2 * m + 1], truth.phase_bias_rad[2 * m + 1]);
    theta2 += t * t;
    phi2 += p * p;
    worst = std::max(worst, t);
  }
  const double mzis = circuit.phase_count / 2;
  EXPECT_LT(std::sqrt(theta2 / mzis), 0.08);  // 0.030 measured
  EXPECT_LT(worst, 0.3) << "a theta off by pi: cross and bar confused";
  EXPECT_LT(std::sqrt(phi2 / mzis), 0.3);  // 0.110 measured
  // 6 columns x 2 groups x 4 states x 8 points x 2 (phi, phi + pi), one
  // state for column 0; then 6 columns x 2 groups x 12 for the phis.
  EXPECT_EQ(readings, 5 * 2 * 4 * 8 * 2 + 2 * 8 * 2 + 6 * 2 * 12);
}

TEST(CalibrationFitTest, SweepFitRecoversTheFringeFrequency) {
  std::vector<double> powers(32);
  Eigen::MatrixXd readings(32, 3);
  const double eta = 0.131;
  for (int p = 0; p < 32; ++p) {
    powers[p] = 56.0 * p / 31;
    for (int k = 0; k < 3; ++k) readings(p, k) = 0.3 + 0.2 * std::cos(eta * powers[p] + k);
  }
  const SweepFit fit = FitSweepFrequency(powers, readings, std::numbers::pi / 25);
  EXPECT_NEAR(fit.efficiency_rad_per_mw, eta, 1e-7);
  EXPECT_NEAR(fit.visibility, 0.2, 1e-6);
  EXPECT_LT(fit.rms_residual, 1e-9);
}

TEST(CalibrationFitTest, BiasFitRecoversBiasesFromNoiselessModelReadings) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  auto model = photonsim::MakeIdealLinearCircuit(layout.circuits[0]);
  const int phases = model->phase_count();
  const std::vector<double> truth = photonsim::testing::RandomPhases(phases, 77);
  const std::vector<double> eta(phases, 0.12);
  BiasFitData data;
  data.patterns = photonsim::MatrixXc::Zero(7, 4);
  for (int i = 0; i < 4; ++i) data.patterns(i, i) = 1.0;
  for (int i = 0; i < 3; ++i)
    data.patterns(4 + i, i) = data.patterns(4 + i, i + 1) = std::sqrt(0.5);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> power(0.0, kTwoPi / 0.12);
  for (int c = 0; c < 24; ++c) {
    std::vector<double> p(phases), phase(phases);
    for (int j = 0; j < phases; ++j) {
      p[j] = power(rng);
      phase[j] = truth[j] + 0.12 * p[j];
    }
    data.powers_mw.push_back(p);
    data.measured.push_back(ModelPowers(*model, data.patterns, phase));
  }
  BiasFitOptions options;
  const BiasFitResult fit = FitPhaseBiases(
      *model, data, eta, std::vector<std::vector<photonsim::CrosstalkEntry>>(phases), options);
  // Coordinate descent lands in the right basin; Levenberg-Marquardt
  // (biases and efficiencies together) then converges quadratically.
  for (int j = 0; j < phases; ++j) EXPECT_LT(AngleError(fit.bias_rad[j], truth[j]), 0.05) << j;
  std::vector<double> bias = fit.bias_rad, fitted_eta(phases, 0.125);
  const double rms =
      RefineBiasesAndEfficiencies(*model, data, bias, fitted_eta,
                                  std::vector<std::vector<photonsim::CrosstalkEntry>>(phases), 20);
  EXPECT_LT(rms, 1e-9);
  for (int j = 0; j < phases; ++j) {
    EXPECT_LT(AngleError(bias[j], truth[j]), 1e-6) << j;
    EXPECT_NEAR(fitted_eta[j], 0.12, 1e-7) << j;
  }
}

void ReportCalibration(const char* name, const photonsim::SimChip& sim,
                       const photonic::v1::PhaseCalibration& calibration, double r_nominal,
                       double* bias_rms, double* eta_rms) {
  const photonsim::HiddenTruth& truth = sim.hidden_truth_for_testing();
  double b2 = 0, e2 = 0;
  const int n = calibration.phase_bias_rad_size();
  for (int i = 0; i < n; ++i) {
    const double bias_error = AngleError(calibration.phase_bias_rad(i), truth.phase_bias_rad[i]);
    // The daemon measures power as V^2 / R_nominal: it sees eta * R_nominal / R_true.
    const double eta_seen =
        truth.heater_efficiency_rad_per_mw[i] * r_nominal / truth.heater_resistance_ohm[i];
    const double eta_error = calibration.efficiency_rad_per_mw(i) / eta_seen - 1.0;
    b2 += bias_error * bias_error;
    e2 += eta_error * eta_error;
  }
  *bias_rms = std::sqrt(b2 / n);
  *eta_rms = std::sqrt(e2 / n);
  std::printf(
      "%s: bias error rms %.4f rad, efficiency error rms %.4f, crosstalk %.4f (truth 0.03), "
      "bias fit rms %.5f, %u readings, chip %.3f s, wall %.2f s\n",
      name, *bias_rms, *eta_rms, calibration.crosstalk_nearest(), calibration.bias_fit_rms(),
      calibration.measurements(), calibration.chip_seconds(), calibration.wall_seconds());
}

TEST(CalibrationTest, RecoversBiasesEfficienciesAndCrosstalkOfTheHiddenChip) {
  Bench bench = MakeBench(FabricatedChip(4, false), 11);
  CalibrationOptions options;
  options.configurations = 24;
  options.seed = 5;
  const absl::StatusOr<photonic::v1::PhaseCalibration> calibration = bench.controller->RunSync(
      [&] { return RunCalibration(*bench.controller, options, nullptr, nullptr); });
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  double bias_rms = 0, eta_rms = 0;
  ReportCalibration("4x4", *bench.sim, *calibration, 1000, &bias_rms, &eta_rms);
  // Measured: 0.009 rad, 0.08 %, 0.0300 (seed 11); bounds leave room for
  // other noise draws, not for a wrong fit.
  EXPECT_LT(bias_rms, 0.025);
  EXPECT_LT(eta_rms, 0.005);
  EXPECT_NEAR(calibration->crosstalk_nearest(), 0.03, 0.003);
}

TEST(CalibrationTest, CancelDuringTheRunInstallsNothingAndLeavesHeatersOff) {
  Bench bench = MakeBench(FabricatedChip(4, false), 11);
  std::atomic<bool> cancelled{false};
  int reports = 0;
  const absl::StatusOr<photonic::v1::PhaseCalibration> calibration = bench.controller->RunSync([&] {
    return RunCalibration(
        *bench.controller, CalibrationOptions{},
        [&](const CalibrationStatus&) {
          if (++reports == 1) cancelled = true;  // during the first sweep
        },
        &cancelled);
  });
  EXPECT_EQ(calibration.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(
      bench.controller->RunSync([&] { return bench.controller->phase_model().calibrated(); }));
  for (double v : bench.sim->heater_voltages_v()) EXPECT_EQ(v, 0.0);
}

TEST(CalibrationTest, RefusesAChipWithTrimmedPhasesBeforeTouchingIt) {
  photonic::v1::ChipDescription chip = FabricatedChip(4, false);
  auto* trim = chip.add_trimmed_phases();
  trim->set_phase(2);
  trim->set_phase_rad(1.0);
  Bench bench = MakeBench(chip, 11);
  int reports = 0;
  std::int64_t writes = -1;
  const absl::StatusOr<photonic::v1::PhaseCalibration> calibration = bench.controller->RunSync([&] {
    bench.sim->TakeHeaterAudit();
    absl::StatusOr<photonic::v1::PhaseCalibration> result = RunCalibration(
        *bench.controller, CalibrationOptions{}, [&](const CalibrationStatus&) { ++reports; },
        nullptr);
    writes = bench.sim->TakeHeaterAudit().writes;
    return result;
  });
  EXPECT_EQ(calibration.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(writes, 0);
  EXPECT_NE(calibration.status().message().find("1 trimmed (passive) phase shifters"),
            std::string::npos)
      << calibration.status();
  EXPECT_EQ(reports, 0);
}

TEST(HeaterPhaseModelTest, CrosstalkTooStrongForTheSolveIsRejected) {
  const photonic::v1::ChipDescription chip = FabricatedChip(8, false);
  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  for (int i = 0; i < 56; ++i) {
    calibration.add_phase_bias_rad(0.0);
    calibration.add_efficiency_rad_per_mw(0.14);
  }
  // 0.45 of the nearest neighbour's power, barely decaying over 10 pitches:
  // rows sum far above 1.
  calibration.set_crosstalk_nearest(0.45);
  calibration.set_crosstalk_decay_pitch(100.0);
  calibration.set_crosstalk_cutoff_pitch(10.0);
  const absl::Status status = HeaterPhaseModel::FromCalibration(chip, calibration).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("converge"), std::string::npos) << status;
}

double Fidelity(ChipController& controller, std::uint64_t seed) {
  const photonsim::MatrixXc target =
      photonsim::testing::HaarUnitary(static_cast<int>(controller.layout().circuits[0].size), seed);
  const absl::StatusOr<UnitaryMeasurement> measurement =
      controller.RunSync([&] { return ProgramUnitaryAndMeasure(controller, 0, target, 16); });
  EXPECT_TRUE(measurement.ok()) << measurement.status();
  return measurement.ok() ? measurement->fidelity : 0.0;
}

TEST(CalibrationTest, CalibratedChipReachesTargetUnitariesTheUncalibratedOneMisses) {
  Bench bench = MakeBench(FabricatedChip(8, true), 21);
  double before = 0.0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) before += Fidelity(*bench.controller, seed) / 5;
  CalibrationOptions options;
  options.seed = 6;
  const absl::StatusOr<photonic::v1::PhaseCalibration> calibration = bench.controller->RunSync(
      [&] { return RunCalibration(*bench.controller, options, nullptr, nullptr); });
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  double bias_rms = 0, eta_rms = 0;
  ReportCalibration("8x8", *bench.sim, *calibration, 1000, &bias_rms, &eta_rms);
  double after = 0.0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) after += Fidelity(*bench.controller, seed) / 5;
  std::printf("8x8 mean fidelity over 5 Haar targets: uncalibrated %.4f, calibrated %.4f\n", before,
              after);
  EXPECT_LT(before, 0.8);
  EXPECT_GT(after, 0.97);
  // Phases mean what they say: all zero is the all-cross mesh, which sends
  // input k to output N-1-k.
  const auto reading = bench.controller->RunSync([&] {
    EXPECT_TRUE(bench.controller->SetPhases(std::vector<double>(56, 0.0), {}).ok());
    std::vector<double> inputs(8, 0.0);
    inputs[0] = 1.0;
    EXPECT_TRUE(bench.controller->SetInputs(inputs).ok());
    return bench.controller->ReadDetectors(16);
  });
  ASSERT_TRUE(reading.ok());
  double total = 0.0;
  for (double p : reading->optical_power_mw) total += p;
  std::printf("all-cross: output 7 gets %.4f of the light\n", reading->optical_power_mw[7] / total);
  EXPECT_GT(reading->optical_power_mw[7] / total, 0.95);
}

TEST(CalibrationTest, LeavesSvdCoresNominalAndSaysSo) {
  // Readings are normalised to their sum, which an SVD core's attenuators do
  // not conserve: these circuits are not calibrated yet.
  photonic::v1::ChipDescription description = FabricatedChip(4, false);
  auto* core = description.add_circuits();
  core->set_name("core");
  core->mutable_svd()->set_size(3);
  Bench bench = MakeBench(description, 4);
  CalibrationOptions options;
  options.configurations = 24;
  const absl::StatusOr<photonic::v1::PhaseCalibration> calibration = bench.controller->RunSync(
      [&] { return RunCalibration(*bench.controller, options, nullptr, nullptr); });
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  ASSERT_EQ(calibration->fitted_size(), 12 + 15);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(calibration->fitted(i)) << i;
  for (int i = 12; i < 27; ++i) {
    EXPECT_FALSE(calibration->fitted(i)) << i;
    EXPECT_EQ(calibration->phase_bias_rad(i), 0.0);
  }
}

}  // namespace
}  // namespace phc::daemon
