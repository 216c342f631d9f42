// ChipController::QueryBatch: many inputs at the present phases, as one
// hardware-timed sweep on the simulator and row by row on instruments
// without one; every row validated before any is sent.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "daemon/chip/chip_controller.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/test_chips.h"
#include "tests/uniform_rows.h"

namespace phc::daemon {
namespace {

struct Bench {
  std::shared_ptr<photonsim::SimChip> sim;
  std::unique_ptr<ChipController> controller;
};

// The ideal 4-mode mesh chip. `sweeps` false: its drivers lack the sweep;
// modulator_driver_max_v: the modulator driver's own limit (the chip's is 3 V).
Bench MakeBench(bool sweeps, double modulator_driver_max_v = 3.0) {
  const photonic::v1::ChipDescription description = phc::testing::IdealMeshChip(4);
  Bench bench;
  auto chip = photonsim::SimChip::Create(description, 1);
  EXPECT_TRUE(chip.ok()) << chip.status();
  bench.sim = std::shared_ptr<photonsim::SimChip>(*std::move(chip));
  drivers::DriverSet drivers = drivers::MakeSimDrivers(
      bench.sim, description.heater().max_voltage_v(), modulator_driver_max_v);
  if (!sweeps) drivers.sweeps.reset();
  auto controller = ChipController::Create(description, std::move(drivers));
  EXPECT_TRUE(controller.ok()) << controller.status();
  bench.controller = *std::move(controller);
  return bench;
}

std::vector<double> RandomAmplitudes(int rows, int inputs, std::uint64_t seed) {
  return phc::testing::UniformRows(rows, inputs, 0.0, 1.0, seed);
}

// More rows than one hardware sweep takes: the batch goes as two sweeps.
TEST(QueryBatchTest, EqualsQueriesRowByRowWithAndWithoutAHardwareSweep) {
  const int kRows = static_cast<int>(kMaxSweepRows) + 37;
  const std::vector<double> phases = {0.3, 1.1, 2.0, 0.7, 2.9, 1.6, 0.2, 2.4, 1.3, 0.9, 3.0, 0.5};
  for (const bool sweeps : {true, false}) {
    SCOPED_TRACE(sweeps ? "sweep" : "row by row");
    Bench batch = MakeBench(sweeps);
    Bench single = MakeBench(true);
    const int inputs = batch.controller->input_count(), outputs = batch.controller->output_count();
    const std::vector<double> rows = RandomAmplitudes(kRows, inputs, 4);
    std::vector<double> expected;
    single.controller->RunSync([&] {
      ASSERT_TRUE(single.controller->SetPhases(phases, {}).ok());
      for (int r = 0; r < kRows; ++r) {
        QueryConfig config;
        config.amplitudes = std::span<const double>(rows).subspan(r * inputs, inputs);
        absl::StatusOr<DetectorReading> reading = single.controller->Query(config);
        ASSERT_TRUE(reading.ok()) << reading.status();
        expected.insert(expected.end(), reading->optical_power_mw.begin(),
                        reading->optical_power_mw.end());
      }
    });
    batch.controller->RunSync([&] {
      ASSERT_TRUE(batch.controller->SetPhases(phases, {}).ok());
      const std::uint64_t queries_before = batch.controller->query_count();
      absl::StatusOr<std::vector<double>> powers = batch.controller->QueryBatch(rows, 1);
      ASSERT_TRUE(powers.ok()) << powers.status();
      ASSERT_EQ(powers->size(), static_cast<std::size_t>(kRows * outputs));
      for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR((*powers)[i], expected[i], 1e-12) << "row " << i / outputs;
      }
      EXPECT_EQ(batch.controller->query_count() - queries_before, kRows);
      EXPECT_EQ(batch.controller->inputs(), std::vector<double>(rows.end() - inputs, rows.end()));
      EXPECT_EQ(batch.controller->last_photocurrent_ua().size(), static_cast<std::size_t>(outputs));
    });
    EXPECT_EQ(batch.sim->modulator_voltages_v(), single.sim->modulator_voltages_v());
    EXPECT_EQ(batch.sim->now(), single.sim->now());
  }
}

// A scan list: the outputs asked for, in the order asked, read as a full
// read would (exact detection), with and without a hardware sweep.
TEST(QueryBatchTest, ReadsOnlyTheOutputsAskedForInTheirOrder) {
  const std::vector<double> phases = {0.3, 1.1, 2.0, 0.7, 2.9, 1.6, 0.2, 2.4, 1.3, 0.9, 3.0, 0.5};
  const std::vector<int> scan = {3, 0, 2};
  for (const bool sweeps : {true, false}) {
    SCOPED_TRACE(sweeps ? "sweep" : "row by row");
    Bench bench = MakeBench(sweeps);
    const int inputs = bench.controller->input_count(), outputs = bench.controller->output_count();
    const std::vector<double> rows = RandomAmplitudes(9, inputs, 8);
    bench.controller->RunSync([&] {
      ASSERT_TRUE(bench.controller->SetPhases(phases, {}).ok());
      absl::StatusOr<std::vector<double>> all = bench.controller->QueryBatch(rows, 1);
      absl::StatusOr<std::vector<double>> some = bench.controller->QueryBatch(rows, 1, scan);
      ASSERT_TRUE(all.ok()) << all.status();
      ASSERT_TRUE(some.ok()) << some.status();
      ASSERT_EQ(some->size(), 9 * scan.size());
      for (int r = 0; r < 9; ++r) {
        for (std::size_t j = 0; j < scan.size(); ++j) {
          EXPECT_NEAR((*some)[r * scan.size() + j], (*all)[r * outputs + scan[j]], 1e-12)
              << "row " << r << " output " << scan[j];
        }
      }
      // Each detector keeps its latest conversion.
      ASSERT_EQ(bench.controller->last_photocurrent_ua().size(), static_cast<std::size_t>(outputs));
    });
  }
}

TEST(QueryBatchTest, ABadOutputListRefusesTheBatchAndChangesNothing) {
  Bench bench = MakeBench(true);
  const int inputs = bench.controller->input_count();
  const std::vector<double> rows = RandomAmplitudes(3, inputs, 6);
  const std::vector<std::pair<std::vector<int>, std::string>> cases = {
      {{0, 4}, "outputs[1] = 4 is out of range (the chip has 4 outputs)"},
      {{-1}, "outputs[0] = -1 is out of range"},
      {{2, 1, 2}, "outputs[2] = 2 appears more than once"},
  };
  const auto time_before = bench.sim->now();
  for (const auto& bad_case : cases) {
    // Named copies: clang 14 cannot capture structured bindings in a lambda.
    const std::vector<int>& outputs = bad_case.first;
    const std::string& message = bad_case.second;
    SCOPED_TRACE(message);
    bench.controller->RunSync([&] {
      absl::StatusOr<std::vector<double>> powers = bench.controller->QueryBatch(rows, 1, outputs);
      ASSERT_FALSE(powers.ok());
      EXPECT_EQ(powers.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(powers.status().message().find(message), std::string::npos) << powers.status();
      EXPECT_EQ(bench.controller->query_count(), 0u);
      EXPECT_EQ(bench.controller->inputs(), std::vector<double>(inputs, 0.0));
    });
    EXPECT_EQ(bench.sim->now(), time_before);
  }
}

TEST(QueryBatchTest, ABadRowRefusesTheWholeBatchAndChangesNothing) {
  Bench bench = MakeBench(true);
  const int inputs = bench.controller->input_count();
  const std::vector<double> good = RandomAmplitudes(5, inputs, 6);
  struct Case {
    std::string name;
    std::vector<double> rows;
    std::uint32_t averages;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  auto with = [&](int index, double value) {
    std::vector<double> rows = good;
    rows[index] = value;
    return rows;
  };
  cases.push_back({"over 1", with(2 * inputs + 1, 1.5), 1, absl::StatusCode::kInvalidArgument,
                   "row 2: amplitudes[1] = 1.5 is outside [0, 1]"});
  cases.push_back({"negative on unipolar modulators", with(4 * inputs, -0.1), 1,
                   absl::StatusCode::kInvalidArgument, "row 4: amplitudes[0]"});
  cases.push_back({"NaN", with(3, std::numeric_limits<double>::quiet_NaN()), 1,
                   absl::StatusCode::kInvalidArgument, "row 0: amplitudes[3]"});
  cases.push_back({"ragged", std::vector<double>(good.begin(), good.end() - 1), 1,
                   absl::StatusCode::kInvalidArgument, "not rows of the chip's 4 inputs"});
  cases.push_back(
      {"averages", good, 1u << 20, absl::StatusCode::kInvalidArgument, "exceeds the maximum"});
  const std::vector<double> modulators_before = bench.sim->modulator_voltages_v();
  const auto time_before = bench.sim->now();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    bench.controller->RunSync([&] {
      absl::StatusOr<std::vector<double>> powers = bench.controller->QueryBatch(c.rows, c.averages);
      ASSERT_FALSE(powers.ok());
      EXPECT_EQ(powers.status().code(), c.code);
      EXPECT_NE(powers.status().message().find(c.message), std::string::npos) << powers.status();
      EXPECT_EQ(bench.controller->query_count(), 0u);
      EXPECT_EQ(bench.controller->inputs(), std::vector<double>(inputs, 0.0));
    });
    EXPECT_EQ(bench.sim->modulator_voltages_v(), modulators_before);
    EXPECT_EQ(bench.sim->now(), time_before);
  }
}

// A modulator driver limited to 2 V with V_pi 2.5 V: amplitude 1 would
// need 2.5 V.
TEST(QueryBatchTest, ARowBeyondAModulatorLimitIsAFailedPrecondition) {
  Bench bench = MakeBench(true, 2.0);
  std::vector<double> rows(3 * 4, 0.5);
  rows[1 * 4 + 2] = 1.0;
  bench.controller->RunSync([&] {
    absl::StatusOr<std::vector<double>> powers = bench.controller->QueryBatch(rows, 1);
    ASSERT_FALSE(powers.ok());
    EXPECT_EQ(powers.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(powers.status().message().find("row 1: modulator 2 would need 2.5 V, over its "
                                             "limit of 2 V"),
              std::string::npos)
        << powers.status();
    EXPECT_EQ(bench.controller->query_count(), 0u);
  });
  EXPECT_EQ(bench.sim->modulator_voltages_v(), std::vector<double>(4, 0.0));
}

}  // namespace
}  // namespace phc::daemon
