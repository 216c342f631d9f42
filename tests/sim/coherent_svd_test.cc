// Signed layers on photonsim: bipolar (push-pull) modulators and coherent
// (homodyne) readout of SVD cores, against the formulas of
// svd_programming.h and optical_circuit.cc:
//   ideal reading (A) = 2 R sqrt(P_laser P_LO) Re((M x)_k) * 1e-3,
//   M = CoherentSvdCoreTransfer = diag(-i e^{-i psi}) SvdCoreTransfer,
// and with a homodyne coupler error and LO loss
//   P+ - P- = cos(2 kappa) (|E|^2 - |L|^2) + 2 sin(2 kappa) Im(E conj(L)).
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "photonsim/chip_description.h"
#include "photonsim/chip_layout.h"
#include "photonsim/detector_chain.h"
#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"
#include "photonsim/phase.h"
#include "photonsim/sim_chip.h"
#include "photonsim/svd_programming.h"
#include "tests/sim/random_unitary.h"
#include "tests/test_chips.h"

namespace photonsim {
namespace {

// IdealMeshChip's instruments: 0.9 A/W, V_pi = 2.5 V, R = 1 kOhm, P_pi = 25 mW.
constexpr double kResponsivity = 0.9;
constexpr double kVPi = 2.5;

photonic::v1::ChipDescription CoherentChip(int n, double laser_mw, double lo_mw, int copies = 1) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(2);
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->set_count(copies);
  circuit->mutable_svd()->set_size(n);
  circuit->mutable_svd()->set_coherent_readout(true);
  circuit->mutable_svd()->set_lo_power_mw(lo_mw);
  chip.set_laser_power_mw(laser_mw);
  chip.mutable_modulator()->set_bipolar(true);
  return chip;
}

std::unique_ptr<SimChip> MakeChip(const photonic::v1::ChipDescription& description,
                                  std::uint64_t seed = 1) {
  auto chip = SimChip::Create(description, seed);
  EXPECT_TRUE(chip.ok()) << chip.status();
  return chip.ok() ? *std::move(chip) : nullptr;
}

// Heater volts giving `phases_rad` on heaters without bias or spread:
// P = phase / eta with eta = pi / P_pi, V = sqrt(P R).
void SetIdealPhases(SimChip& chip, const std::vector<double>& phases_rad, double p_pi_mw = 25.0,
                    double resistance_ohm = 1000.0) {
  std::vector<int> channels(phases_rad.size());
  std::iota(channels.begin(), channels.end(), 0);
  std::vector<double> volts(phases_rad.size());
  for (std::size_t i = 0; i < phases_rad.size(); ++i) {
    const double power_mw = WrapPhase(phases_rad[i]) / (std::numbers::pi / p_pi_mw);
    volts[i] = std::sqrt(power_mw * 1e-3 * resistance_ohm);
  }
  chip.SetHeaterVoltages(channels, volts);
}

// Bipolar modulator volts for signed amplitudes: V = 2 V_pi / pi asin(a).
std::vector<double> ModulatorVolts(const VectorXd& amplitudes, double v_pi_v = kVPi) {
  std::vector<double> volts(amplitudes.size());
  for (Eigen::Index i = 0; i < amplitudes.size(); ++i) {
    volts[i] = 2.0 * v_pi_v / std::numbers::pi * std::asin(amplitudes(i));
  }
  return volts;
}

VectorXd RandomSigned(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> amplitude(-1.0, 1.0);
  VectorXd x(n);
  for (int i = 0; i < n; ++i) x(i) = amplitude(rng);
  return x;
}

Eigen::MatrixXd RandomReal(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, 1.0);
  Eigen::MatrixXd w(n, n);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) w(r, c) = gauss(rng);
  return w;
}

// The photocurrent of a unit in-phase field, Re((M x)_k) = 1, on an ideal
// 50:50 homodyne stage: c R sqrt(P_laser P_LO) with c = 2.
double UnitReadingA(double laser_mw, double lo_mw) {
  return 2.0 * kResponsivity * std::sqrt(laser_mw * lo_mw) * 1e-3;
}

TEST(CoherentSvdLayoutTest, ACoherentCoreAddsOneLoPhaseAndOneHomodyneStagePerOutput) {
  constexpr int kN = 8;
  const ChipLayout layout = BuildChipLayout(CoherentChip(kN, 1.0, 1.0, 2));
  ASSERT_EQ(layout.circuits.size(), 2u);
  const CircuitLayout& core = layout.circuits[0];
  EXPECT_EQ(core.phase_count, 2 * kN * (kN - 1) + 2 * kN);  // 128
  EXPECT_EQ(core.phase_count, SvdCorePhaseCount(kN, true));
  EXPECT_EQ(core.mzi_count, kN * (kN - 1) + 2 * kN);  // meshes, attenuators, homodyne stages
  EXPECT_EQ(core.input_count, kN);
  EXPECT_EQ(core.output_count, kN);
  EXPECT_EQ(layout.circuits[1].first_phase, 128);
  EXPECT_EQ(layout.circuits[1].first_mzi, 72);
  EXPECT_EQ(layout.circuits[1].first_output, kN);
  EXPECT_TRUE(HasCoherentReadout(core));
  EXPECT_TRUE(HasBalancedOutputs(core));
  EXPECT_EQ(CircuitKindName(core), "svd/coherent");

  // Every heater has a place, no two share one, and the LO heaters form a
  // column after the U mesh, LO k level with output k.
  const std::vector<HeaterPosition> positions = HeaterPositions(core);
  ASSERT_EQ(static_cast<int>(positions.size()), core.phase_count);
  std::set<std::pair<double, double>> distinct;
  for (const HeaterPosition& p : positions) {
    EXPECT_TRUE(std::isfinite(p.x_pitch) && std::isfinite(p.y_pitch));
    distinct.insert({p.x_pitch, p.y_pitch});
  }
  EXPECT_EQ(static_cast<int>(distinct.size()), core.phase_count);
  const int intensity_phases = SvdCorePhaseCount(kN, false);
  double mesh_max_x = 0.0;
  for (int i = 0; i < intensity_phases; ++i)
    mesh_max_x = std::max(mesh_max_x, positions[i].x_pitch);
  for (int k = 0; k < kN; ++k) {
    EXPECT_GT(positions[intensity_phases + k].x_pitch, mesh_max_x);
    EXPECT_EQ(positions[intensity_phases + k].y_pitch, double(k));
  }

  // An intensity core keeps its numbering and its heaters' places.
  photonic::v1::ChipDescription intensity = CoherentChip(kN, 1.0, 0.0);
  intensity.mutable_circuits(0)->mutable_svd()->set_coherent_readout(false);
  const CircuitLayout plain = BuildChipLayout(intensity).circuits[0];
  EXPECT_EQ(plain.phase_count, 120);
  EXPECT_EQ(plain.mzi_count, 64);
  EXPECT_FALSE(HasBalancedOutputs(plain));
  EXPECT_EQ(CircuitKindName(plain), "svd");
  const std::vector<HeaterPosition> plain_positions = HeaterPositions(plain);
  for (int i = 0; i < plain.phase_count; ++i) {
    EXPECT_EQ(plain_positions[i].x_pitch, positions[i].x_pitch);
    EXPECT_EQ(plain_positions[i].y_pitch, positions[i].y_pitch);
  }
}

TEST(CoherentSvdValidationTest, RejectsABadLoPowerAnLoWithoutHomodyneAndAOneBitBipolarDac) {
  EXPECT_TRUE(ValidateChipDescription(CoherentChip(4, 1.0, 2.0)).ok());
  EXPECT_TRUE(ValidateChipDescription(CoherentChip(4, 1.0, 0.0)).ok());  // 0 means 1 mW
  for (const double bad :
       {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    const absl::Status status = ValidateChipDescription(CoherentChip(4, 1.0, bad));
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_NE(status.message().find("circuits[0].svd.lo_power_mw"), std::string::npos)
        << status.message();
  }
  photonic::v1::ChipDescription no_homodyne = CoherentChip(4, 1.0, 2.0);
  no_homodyne.mutable_circuits(0)->mutable_svd()->set_coherent_readout(false);
  const absl::Status lo_alone = ValidateChipDescription(no_homodyne);
  EXPECT_FALSE(lo_alone.ok());
  EXPECT_NE(lo_alone.message().find("coherent_readout"), std::string::npos) << lo_alone.message();
  photonic::v1::ChipDescription one_bit = CoherentChip(4, 1.0, 1.0);
  one_bit.mutable_modulator()->set_dac_bits(1);
  const absl::Status dac = ValidateChipDescription(one_bit);
  EXPECT_FALSE(dac.ok());
  EXPECT_NE(dac.message().find("modulator.dac_bits"), std::string::npos) << dac.message();
}

TEST(CoherentSvdTest, IdealCoreReadsTwiceTheInPhaseProductOfSignalAndLo) {
  constexpr int kN = 6;
  constexpr double kLaserMw = 1.5, kLoMw = 2.0;
  auto chip = MakeChip(CoherentChip(kN, kLaserMw, kLoMw));
  ASSERT_NE(chip, nullptr);
  const std::vector<double> phases = testing::RandomPhases(SvdCorePhaseCount(kN, true), 3);
  SetIdealPhases(*chip, phases);
  const MatrixXc m = CoherentSvdCoreTransfer(kN, phases);
  const double unit_a = UnitReadingA(kLaserMw, kLoMw);
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 5; ++trial) {
    const VectorXd x = RandomSigned(kN, rng);
    chip->SetModulatorVoltages(ModulatorVolts(x));
    const std::vector<double> currents = chip->ReadPhotocurrentsA(1);
    const VectorXc y = m * x.cast<Complex>();
    // 1e-9 of the unit reading (the optics and the formula agree to rounding).
    for (int k = 0; k < kN; ++k) {
      EXPECT_NEAR(currents[k], unit_a * y(k).real(), 1e-9 * unit_a)
          << "trial " << trial << " output " << k;
    }
  }
}

TEST(CoherentSvdTest, ProgrammedCoreRealisesARealSignedMatrixExactly) {
  constexpr int kN = 8;
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd w = RandomReal(kN, rng);
  const absl::StatusOr<SvdCoreProgram> program = ProgramCoherentSvdCore(w);
  ASSERT_TRUE(program.ok()) << program.status();
  ASSERT_EQ(static_cast<int>(program->phases_rad.size()), SvdCorePhaseCount(kN, true));
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(w);
  EXPECT_NEAR(program->scale, svd.singularValues()(0), 1e-12 * program->scale);
  for (const double d : program->output_phases_rad) EXPECT_EQ(d, 0.0);

  // M = W / s_max: its real part is W / s_max, its imaginary part 0.
  const MatrixXc m = CoherentSvdCoreTransfer(kN, program->phases_rad);
  const Eigen::MatrixXd target = w / program->scale;
  EXPECT_LT((m.real() - target).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT(m.imag().cwiseAbs().maxCoeff(), 1e-10);

  // On the ideal chip the readings are the signed W x / s_max.
  constexpr double kLaserMw = 1.0, kLoMw = 1.0;
  auto chip = MakeChip(CoherentChip(kN, kLaserMw, kLoMw));
  ASSERT_NE(chip, nullptr);
  SetIdealPhases(*chip, program->phases_rad);
  const double unit_a = UnitReadingA(kLaserMw, kLoMw);
  int negative_readings = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const VectorXd x = RandomSigned(kN, rng);
    chip->SetModulatorVoltages(ModulatorVolts(x));
    const std::vector<double> currents = chip->ReadPhotocurrentsA(1);
    const VectorXd y = target * x;
    for (int k = 0; k < kN; ++k) {
      EXPECT_NEAR(currents[k], unit_a * y(k), 1e-9 * unit_a)
          << "trial " << trial << " output " << k;
      negative_readings += currents[k] < 0.0;
    }
  }
  EXPECT_GT(negative_readings, 0);  // the readings are signed
}

TEST(CoherentSvdTest, ANegativeInputAmplitudeFlipsTheReading) {
  constexpr int kN = 4;
  std::mt19937_64 rng(6);
  const absl::StatusOr<SvdCoreProgram> program = ProgramCoherentSvdCore(RandomReal(kN, rng));
  ASSERT_TRUE(program.ok());
  auto chip = MakeChip(CoherentChip(kN, 1.0, 1.0));
  ASSERT_NE(chip, nullptr);
  SetIdealPhases(*chip, program->phases_rad);
  VectorXd x = VectorXd::Zero(kN);
  x(2) = 0.7;
  chip->SetModulatorVoltages(ModulatorVolts(x));
  const std::vector<double> plus = chip->ReadPhotocurrentsA(1);
  x(2) = -0.7;
  chip->SetModulatorVoltages(ModulatorVolts(x));
  EXPECT_LT(chip->modulator_voltages_v()[2], 0.0);
  const std::vector<double> minus = chip->ReadPhotocurrentsA(1);
  const double unit_a = UnitReadingA(1.0, 1.0);
  double largest_a = 0.0;
  for (int k = 0; k < kN; ++k) {
    EXPECT_NEAR(minus[k], -plus[k], 1e-12 * unit_a) << "output " << k;
    largest_a = std::max(largest_a, std::abs(plus[k]));
  }
  EXPECT_GT(largest_a, 0.01 * unit_a);
}

// With a homodyne coupler error, LO loss, LO phase bias, heater spreads,
// crosstalk and mesh errors, every reading follows the element-by-element
// model built from the hidden truth's slots.
TEST(CoherentSvdTest, FabricatedCoreFollowsTheHomodyneFormulaWithItsHiddenErrors) {
  constexpr int kN = 5;
  constexpr double kLoMw = 1.5;
  photonic::v1::ChipDescription description = CoherentChip(kN, 1.0, kLoMw);
  auto* fab = description.mutable_fabrication();
  fab->set_resistance_spread(0.05);
  fab->set_efficiency_spread(0.05);
  fab->set_random_phase_bias(true);
  fab->set_splitting_error_std_rad(0.03);
  fab->set_insertion_loss_db_mean(0.2);
  fab->set_insertion_loss_db_std(0.05);
  fab->set_responsivity_spread(0.03);
  description.mutable_thermal()->set_crosstalk_nearest(0.03);
  description.mutable_thermal()->set_crosstalk_decay_pitch(1.0);
  description.mutable_thermal()->set_crosstalk_cutoff_pitch(3.0);
  auto chip = MakeChip(description, 11);
  ASSERT_NE(chip, nullptr);
  const HiddenTruth& truth = chip->hidden_truth_for_testing();

  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> heater_v(0.0, 6.0);
  std::vector<int> channels(chip->heater_count());
  std::iota(channels.begin(), channels.end(), 0);
  std::vector<double> volts(chip->heater_count());
  for (double& v : volts) v = heater_v(rng);
  chip->SetHeaterVoltages(channels, volts);
  const VectorXd x = RandomSigned(kN, rng);
  chip->SetModulatorVoltages(ModulatorVolts(x));
  const std::vector<double> currents = chip->ReadPhotocurrentsA(1);
  const std::vector<double> phases = chip->PhasesForTesting();

  const std::span<const double> split(truth.splitting_error_rad);
  const std::span<const double> amplitude(truth.mzi_amplitude);
  const std::span<const double> all_phases(phases);
  MziMesh v = MziMesh::Clements(kN);
  MziMesh u = MziMesh::Clements(kN);
  const int mzis = v.mzi_count();
  const int mesh_phases = v.phase_count();
  v.SetImperfections(split.subspan(0, 2 * mzis), amplitude.subspan(0, mzis));
  v.SetPhases(all_phases.subspan(0, mesh_phases));
  u.SetImperfections(split.subspan(2 * (mzis + kN), 2 * mzis), amplitude.subspan(mzis + kN, mzis));
  u.SetPhases(all_phases.subspan(mesh_phases + kN, mesh_phases));
  VectorXc attenuation(kN);
  for (int k = 0; k < kN; ++k) {
    const int slot = mzis + k;
    attenuation(k) = amplitude[slot] * MziMatrix(phases[mesh_phases + k], 0.0, split[2 * slot],
                                                 split[2 * slot + 1])(0, 0);
  }
  const VectorXc e = std::sqrt(truth.laser_power_mw) * u.TransferMatrix() *
                     attenuation.asDiagonal() * v.TransferMatrix() * x.cast<Complex>();
  const double unit_a = UnitReadingA(truth.laser_power_mw, kLoMw);
  for (int k = 0; k < kN; ++k) {
    const int slot = 2 * mzis + kN + k;  // homodyne stage k
    const double kappa = std::numbers::pi / 4 + split[2 * slot];
    const Complex lo =
        std::sqrt(kLoMw) * amplitude[slot] * std::polar(1.0, phases[2 * mesh_phases + kN + k]);
    const double difference_mw = std::cos(2 * kappa) * (std::norm(e(k)) - std::norm(lo)) +
                                 2 * std::sin(2 * kappa) * (e(k) * std::conj(lo)).imag();
    EXPECT_NEAR(currents[k], truth.responsivity_a_per_w[k] * difference_mw * 1e-3, 1e-10 * unit_a)
        << "output " << k;
  }
}

photonic::v1::ChipDescription NoisyCoherentChip(int n, double lo_mw) {
  photonic::v1::ChipDescription description = CoherentChip(n, 1.0, lo_mw);
  auto* detector = description.mutable_detector();
  detector->set_tia_gain_ohm(1000);
  detector->set_bandwidth_hz(1e9);
  detector->set_temperature_k(300);
  detector->set_adc_bits(24);
  detector->set_adc_full_scale_v(2.0);
  detector->set_sample_time_us(1.0);
  return description;  // 1 nA dark current per photodiode
}

TEST(CoherentSvdTest, DarkInputVarianceIsTheLoShotNoisePlusJohnson) {
  constexpr int kN = 4, kReads = 3000, kAverages = 4;
  for (const double lo_mw : {1.0, 4.0}) {
    SCOPED_TRACE(lo_mw);
    const photonic::v1::ChipDescription description = NoisyCoherentChip(kN, lo_mw);
    auto chip = MakeChip(description);
    ASSERT_NE(chip, nullptr);
    // x = 0: the modulators stay at 0 V (null), the heaters at 0 V.
    std::vector<double> sum(kN, 0.0), sum_sq(kN, 0.0);
    for (int r = 0; r < kReads; ++r) {
      const std::vector<double> currents = chip->ReadPhotocurrentsA(kAverages);
      for (int k = 0; k < kN; ++k) {
        sum[k] += currents[k];
        sum_sq[k] += currents[k] * currents[k];
      }
    }
    // The pair carries all of the LO's power (the coupler only splits it)
    // and both dark currents: shot noise 2 q R P_LO B + 2 q (2 I_dark) B, plus
    // the TIA's Johnson noise, per conversion.
    const DetectorChain detector(description.detector());
    const double through_a = kResponsivity * lo_mw * 1e-3 + 2 * 1e-9;
    const double expected_a2 = detector.SampleVarianceA2(through_a) / kAverages;
    double pooled = 0.0;
    for (int k = 0; k < kN; ++k) {
      const double mean = sum[k] / kReads;
      pooled += (sum_sq[k] - kReads * mean * mean) / (kReads - 1);
      // No signal, an ideal coupler and cancelling dark currents: mean 0.
      EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(expected_a2 / kReads)) << "output " << k;
    }
    pooled /= kN;
    // 4 x 3000 pooled reads: the sample variance has relative sd
    // sqrt(2 / 12000) = 1.3 %; allow 5 sd.
    EXPECT_NEAR(pooled / expected_a2, 1.0, 0.065);
  }
}

TEST(CoherentSvdTest, BipolarDacQuantisesMinusVToMinusWhatItGivesPlusV) {
  photonic::v1::ChipDescription description = CoherentChip(4, 1.0, 1.0);
  description.mutable_modulator()->set_dac_bits(8);
  auto chip = MakeChip(description);
  ASSERT_NE(chip, nullptr);
  // 2^7 - 1 steps each side of 0 V over max_voltage_v = 3 V.
  const double lsb = 3.0 / 127.0;
  chip->SetModulatorVoltages(std::vector<double>{-1.234, 1.234, 0.0, -3.0});
  const std::vector<double> v = chip->modulator_voltages_v();
  EXPECT_EQ(v[0], -v[1]);
  EXPECT_DOUBLE_EQ(v[1], std::round(1.234 / lsb) * lsb);
  EXPECT_EQ(v[2], 0.0);
  EXPECT_DOUBLE_EQ(v[3], -3.0);
  // Half an LSB rounds away from 0 V on both sides.
  chip->SetModulatorVoltages(std::vector<double>{-0.5 * lsb, 0.5 * lsb, -2.5 * lsb, 2.5 * lsb});
  const std::vector<double> halves = chip->modulator_voltages_v();
  EXPECT_EQ(halves[0], -halves[1]);
  EXPECT_DOUBLE_EQ(halves[1], lsb);
  EXPECT_EQ(halves[2], -halves[3]);

  // A unipolar DAC keeps 2^8 - 1 steps over [0, 3 V].
  description.mutable_modulator()->set_bipolar(false);
  auto unipolar = MakeChip(description);
  ASSERT_NE(unipolar, nullptr);
  unipolar->SetModulatorVoltages(std::vector<double>{1.234, 0.0, 0.0, 0.0});
  EXPECT_DOUBLE_EQ(unipolar->modulator_voltages_v()[0],
                   std::round(1.234 / (3.0 / 255.0)) * (3.0 / 255.0));
}

TEST(CoherentSvdTest, ShippedCoherentChipReadsAFullScaleSignedOutputWithoutSaturating) {
  const std::string path = std::string(PHC_SOURCE_DIR) + "/deploy/chips/svd8_coherent.textproto";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  std::stringstream text;
  text << file.rdbuf();
  photonic::v1::ChipDescription description;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text.str(), &description));
  ASSERT_TRUE(ValidateChipDescription(description).ok());
  const ChipLayout layout = BuildChipLayout(description);
  EXPECT_EQ(layout.phase_count, 512);
  EXPECT_EQ(layout.input_count, 32);
  EXPECT_EQ(layout.output_count, 32);
  ASSERT_NE(MakeChip(description), nullptr);

  // The file's bound: the homodyne term 2 sqrt(8 mW * P_LO) plus a 3 sigma
  // coupler imbalance sin(6 sigma_eps) (8 - 0.9) mW, at a 3 sigma
  // responsivity, fits the ADC.
  const photonic::v1::DetectorSpec& spec = description.detector();
  const double lo_mw = LoPowerMw(description.circuits(0).svd());
  const double worst_mw =
      2 * std::sqrt(8 * description.laser_power_mw() * lo_mw) +
      std::sin(6 * description.fabrication().splitting_error_std_rad()) * (8 - 0.9);
  const double worst_a = worst_mw * 1e-3 * spec.responsivity_a_per_w() *
                         (1 + 3 * description.fabrication().responsivity_spread());
  const double full_scale_a = DetectorChain(spec).full_scale_current_a();
  EXPECT_LT(worst_a, 0.8 * full_scale_a);

  // The largest signed output on the chip without fabrication errors: W's
  // first row all ones (M's row 1 / sqrt(8)), every input at +1 or -1,
  // reads +-2 R sqrt(8 P_laser P_LO) on output 0 of core 0.
  photonic::v1::ChipDescription ideal = description;
  ideal.clear_fabrication();
  ideal.mutable_thermal()->set_crosstalk_nearest(0.0);
  ideal.mutable_thermal()->set_tau_us(0.0);  // settled at once
  ideal.mutable_tec()->set_stability_k(0.0);
  auto chip = MakeChip(ideal);
  ASSERT_NE(chip, nullptr);
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(8, 8);
  w.row(0).setOnes();
  const absl::StatusOr<SvdCoreProgram> program = ProgramCoherentSvdCore(w);
  ASSERT_TRUE(program.ok());
  std::vector<double> phases = program->phases_rad;
  phases.resize(layout.phase_count, 0.0);  // the other cores at 0 rad
  SetIdealPhases(*chip, phases, ideal.heater().p_pi_mw(), ideal.heater().resistance_ohm());
  const double expected_a = 2 * spec.responsivity_a_per_w() *
                            std::sqrt(8 * ideal.laser_power_mw() * lo_mw) * 1e-3;  // 5.1 mA
  for (const double sign : {1.0, -1.0}) {
    VectorXd x = VectorXd::Zero(layout.input_count);
    x.head(8).setConstant(sign);
    chip->SetModulatorVoltages(ModulatorVolts(x, ideal.modulator().v_pi_v()));
    const double reading_a = chip->ReadPhotocurrentsA(1)[0];
    // 16-bit heater DACs leave ~1e-4 rad per phase: 2 %.
    EXPECT_NEAR(reading_a, sign * expected_a, 0.02 * expected_a);
    EXPECT_LT(std::abs(reading_a), 0.8 * full_scale_a);
  }
}

}  // namespace
}  // namespace photonsim
