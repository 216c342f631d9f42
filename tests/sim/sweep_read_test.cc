// SimChip::ReadSequencePhotocurrentsA, the simulator's hardware-timed sweep:
// each row must read as SetModulatorVoltages + ReadPhotocurrentsA would at
// the same moment, while the rows are propagated in batches.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "photonsim/sim_chip.h"
#include "tests/test_chips.h"
#include "tests/uniform_rows.h"

namespace photonsim {
namespace {

std::unique_ptr<SimChip> MakeChip(const photonic::v1::ChipDescription& description,
                                  std::uint64_t seed) {
  auto chip = SimChip::Create(description, seed);
  EXPECT_TRUE(chip.ok()) << chip.status();
  return chip.ok() ? *std::move(chip) : nullptr;
}

// Two 8-mode meshes and a coherent-readout-free SVD core, with the shipped
// chips' fabrication errors, crosstalk, settling and temperature wander;
// `noisy` keeps their detector noise, else detection is exact.
photonic::v1::ChipDescription MixedChip(bool noisy) {
  photonic::v1::ChipDescription chip =
      phc::testing::WithOnnSvd8x24Errors(phc::testing::IdealMeshChip(8));
  chip.mutable_circuits(0)->set_count(2);
  auto* core = chip.add_circuits();
  core->set_name("core");
  core->mutable_svd()->set_size(4);
  chip.mutable_thermal()->set_phase_drift_rad_per_k(0.07);
  chip.mutable_tec()->set_stability_k(0.005);
  chip.mutable_tec()->set_time_constant_s(1);
  chip.set_max_total_heater_power_mw(5000);
  if (!noisy) chip.mutable_detector()->set_tia_gain_ohm(0);
  return chip;
}

// Two coherent SVD cores (homodyne readout) with bipolar 12-bit modulators
// and the same errors; exact detection.
photonic::v1::ChipDescription CoherentChip() {
  photonic::v1::ChipDescription chip = MixedChip(false);
  chip.clear_circuits();
  auto* core = chip.add_circuits();
  core->set_name("core");
  core->set_count(2);
  core->mutable_svd()->set_size(4);
  core->mutable_svd()->set_coherent_readout(true);
  core->mutable_svd()->set_lo_power_mw(1.0);
  chip.mutable_modulator()->set_bipolar(true);
  chip.mutable_modulator()->set_dac_bits(12);
  return chip;
}

std::vector<double> RandomRows(int rows, int inputs, std::uint64_t seed, bool bipolar = false) {
  std::vector<double> all =
      phc::testing::UniformRows(rows, inputs, bipolar ? -2.5 : 0.0, 2.5, seed);
  for (int i = 0; i < inputs; ++i) all[3 * inputs + i] = 0.0;  // one dark row
  return all;
}

void WriteRandomHeaters(SimChip& chip, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> volts(0.0, 4.0);
  std::vector<int> channels(chip.heater_count());
  std::iota(channels.begin(), channels.end(), 0);
  std::vector<double> values(channels.size());
  for (double& v : values) v = volts(rng);
  chip.SetHeaterVoltages(channels, values);
}

// Exact detection: the sweep equals single reads row for row, including
// rows read while the heaters settle (tau 5 us, 4 us per row) and while the
// temperature wanders, and leaves the chip at the same time and inputs.
TEST(SweepReadTest, EqualsSingleReadsRowForRowWhileHeatersSettle) {
  for (const bool coherent : {false, true}) {
    SCOPED_TRACE(coherent ? "coherent SVD cores, bipolar 12-bit modulators"
                          : "meshes and an SVD core");
    const photonic::v1::ChipDescription description = coherent ? CoherentChip() : MixedChip(false);
    auto swept = MakeChip(description, 5);
    auto single = MakeChip(description, 5);
    ASSERT_NE(swept, nullptr);
    ASSERT_NE(single, nullptr);
    const int inputs = swept->modulator_count(), outputs = swept->detector_count();
    constexpr int kRows = 40, kAverages = 4;
    const std::vector<double> rows = RandomRows(kRows, inputs, 2, coherent);
    for (SimChip* chip : {swept.get(), single.get()}) {
      chip->ReadPhotocurrentsA(1);  // build the optics, then move every heater
      WriteRandomHeaters(*chip, 3);
    }
    const std::vector<double> sweep = swept->ReadSequencePhotocurrentsA(rows, kAverages);
    ASSERT_EQ(sweep.size(), static_cast<std::size_t>(kRows * outputs));
    double first_to_last_change = 0.0;
    for (int r = 0; r < kRows; ++r) {
      single->SetModulatorVoltages(std::span<const double>(rows).subspan(r * inputs, inputs));
      const std::vector<double> read = single->ReadPhotocurrentsA(kAverages);
      for (int k = 0; k < outputs; ++k) {
        EXPECT_NEAR(sweep[r * outputs + k], read[k], 1e-12 * std::abs(read[k]) + 1e-18)
            << "row " << r << " output " << k;
      }
    }
    const std::vector<double> single_last_row = single->modulator_voltages_v();
    // The heaters really were settling during the sweep: the same inputs read
    // differently at its start and at its end.
    std::vector<double> again(rows.begin(), rows.begin() + inputs);
    single->SetModulatorVoltages(again);
    const std::vector<double> late = single->ReadPhotocurrentsA(kAverages);
    for (int k = 0; k < outputs; ++k) {
      first_to_last_change = std::max(first_to_last_change, std::abs(late[k] - sweep[k]));
    }
    EXPECT_GT(first_to_last_change, 1e-6);
    EXPECT_EQ(swept->now() + std::chrono::microseconds(kAverages), single->now());
    // The DAC quantises (12 bits on the coherent chip): both chips hold the
    // same last row.
    EXPECT_EQ(swept->modulator_voltages_v(), single_last_row);
  }
}

// A scan list (the ADC converting some detectors, in its own order): the
// scanned detectors read as single full reads do, row for row, while one
// circuit's heaters settle and the others' hold; the circuit no scanned
// detector belongs to still follows the drift (a full read afterwards agrees
// too).
TEST(SweepReadTest, AScanListReadsItsDetectorsAsFullReadsDo) {
  const photonic::v1::ChipDescription description = MixedChip(false);
  auto swept = MakeChip(description, 5);
  auto single = MakeChip(description, 5);
  ASSERT_NE(swept, nullptr);
  ASSERT_NE(single, nullptr);
  const int inputs = swept->modulator_count(), outputs = swept->detector_count();
  ASSERT_EQ(outputs, 20);  // meshes 0..7, 8..15; the SVD core 16..19
  const std::vector<int> scan = {17, 3, 0, 19, 6};
  constexpr int kRows = 30;
  const std::vector<double> rows = RandomRows(kRows, inputs, 2);
  for (SimChip* chip : {swept.get(), single.get()}) {
    chip->ReadPhotocurrentsA(1);  // build the optics, then move mesh 0's heaters
    std::vector<int> channels(swept->layout().circuits[0].phase_count);
    std::iota(channels.begin(), channels.end(), 0);
    chip->SetHeaterVoltages(channels, std::vector<double>(channels.size(), 2.5));
  }
  const std::vector<double> sweep = swept->ReadSequencePhotocurrentsA(rows, 1, scan);
  ASSERT_EQ(sweep.size(), kRows * scan.size());
  for (int r = 0; r < kRows; ++r) {
    single->SetModulatorVoltages(std::span<const double>(rows).subspan(r * inputs, inputs));
    const std::vector<double> read = single->ReadPhotocurrentsA(1);
    for (std::size_t j = 0; j < scan.size(); ++j) {
      const double expected = read[scan[j]];
      EXPECT_NEAR(sweep[r * scan.size() + j], expected, 1e-12 * std::abs(expected) + 1e-18)
          << "row " << r << " detector " << scan[j];
    }
  }
  EXPECT_EQ(swept->now(), single->now());
  EXPECT_EQ(swept->modulator_voltages_v(), single->modulator_voltages_v());
  const std::vector<double> after = swept->ReadPhotocurrentsA(1);
  const std::vector<double> expected = single->ReadPhotocurrentsA(1);
  for (int k = 0; k < outputs; ++k) {
    EXPECT_NEAR(after[k], expected[k], 1e-12 * std::abs(expected[k]) + 1e-18) << "detector " << k;
  }
}

// Mean and variance (two-pass) of x.
std::pair<double, double> MeanAndVariance(const std::vector<double>& x) {
  double mean = 0.0, variance = 0.0;
  for (double v : x) mean += v / x.size();
  for (double v : x) variance += (v - mean) * (v - mean) / (x.size() - 1);
  return {mean, variance};
}

// With shot and Johnson noise well above the 16-bit ADC's step (a 100 MHz
// front end, 100 kOhm TIA, 10 uW laser): the sweep's rows have the
// statistics of single reads (mean within 5 standard errors, variance
// within 20 %), though drawn in another order.
TEST(SweepReadTest, NoisyRowsHaveTheStatisticsOfSingleReads) {
  photonic::v1::ChipDescription description = MixedChip(true);
  description.mutable_detector()->set_bandwidth_hz(1e8);
  description.mutable_detector()->set_tia_gain_ohm(1e5);
  description.set_laser_power_mw(0.01);
  auto swept = MakeChip(description, 9);
  auto single = MakeChip(description, 9);
  ASSERT_NE(swept, nullptr);
  ASSERT_NE(single, nullptr);
  const int inputs = swept->modulator_count(), outputs = swept->detector_count();
  constexpr int kRows = 2000;
  std::vector<double> row(inputs);
  for (int i = 0; i < inputs; ++i) row[i] = 0.3 + 2.0 * i / inputs;
  std::vector<double> rows;
  for (int r = 0; r < kRows; ++r) rows.insert(rows.end(), row.begin(), row.end());
  const std::vector<double> sweep = swept->ReadSequencePhotocurrentsA(rows, 1);
  single->SetModulatorVoltages(row);
  std::vector<std::vector<double>> swept_reads(outputs), single_reads(outputs);
  for (int r = 0; r < kRows; ++r) {
    const std::vector<double> read = single->ReadPhotocurrentsA(1);
    for (int k = 0; k < outputs; ++k) {
      swept_reads[k].push_back(sweep[r * outputs + k]);
      single_reads[k].push_back(read[k]);
    }
  }
  for (int k = 0; k < outputs; ++k) {
    const auto [mean_a, var_a] = MeanAndVariance(swept_reads[k]);
    const auto [mean_b, var_b] = MeanAndVariance(single_reads[k]);
    ASSERT_GT(var_b, 0.0) << "output " << k;
    EXPECT_NEAR(mean_a, mean_b, 5.0 * std::sqrt((var_a + var_b) / kRows)) << "output " << k;
    EXPECT_NEAR(var_a / var_b, 1.0, 0.2) << "output " << k;
  }
}

TEST(SweepReadTest, AnEmptySweepReadsNothingAndTakesNoTime) {
  auto chip = MakeChip(MixedChip(true), 1);
  ASSERT_NE(chip, nullptr);
  const auto before = chip->now();
  EXPECT_TRUE(chip->ReadSequencePhotocurrentsA({}, 1).empty());
  EXPECT_EQ(chip->now(), before);
}

}  // namespace
}  // namespace photonsim
