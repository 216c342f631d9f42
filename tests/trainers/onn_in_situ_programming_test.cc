// Programming a model's cores against the chip's readings: on the ideal chip
// from disturbed phases it must find the model's matrices again (to the
// solver's precision, receivers nominal), and on a fabricated simulated chip
// (unknown phase biases, efficiency and resistance spread, crosstalk, coupler
// errors, loss, receiver spread) it must bring the cores' matrices and the
// measured logits close to the model's, where the nominal deployment is far
// off.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_situ_programming.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/chip_layout.h"
#include "tests/model_specs.h"
#include "tests/sim_oracle.h"
#include "tests/test_chips.h"

namespace phc::trainers::onn {
namespace {

// The instruments chips for models are made from (ChipForModel).
photonic::v1::ChipDescription Instruments() {
  photonic::v1::ChipDescription chip = testing::IdealMeshChip(4);
  chip.set_max_total_heater_power_mw(12 * 50.0);
  return chip;
}

double Mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The model's deployed phases, each moved by N(0, 0.1 rad) (seed 7).
std::vector<double> DisturbedDeployment(const Model& model, const ChipPlacement& placement,
                                        const photonsim::ChipLayout& layout) {
  std::vector<double> start =
      DeployedPhases(model, layout, placement, std::vector<double>(layout.phase_count, 0.0));
  std::mt19937_64 rng(7);
  std::normal_distribution<double> disturbance(0.0, 0.1);
  for (double& phase : start) phase += disturbance(rng);
  return start;
}

TEST(InSituProgrammingTest, OnTheIdealChipItFindsTheModelsMatricesFromDisturbedPhases) {
  absl::StatusOr<Model> model = Model::Build(testing::TinyModelSpec(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok()) << placement.status();
  ModelOracle oracle(chip);
  const photonsim::ChipLayout& layout = oracle.layout();
  const std::vector<double> start = DisturbedDeployment(*model, *placement, layout);

  InSituProgrammingOptions options;
  options.sweeps = 2;
  options.refinements = 10;
  int calls = 0;
  options.progress = [&](int done, int total, double) {
    EXPECT_EQ(done, ++calls);
    EXPECT_EQ(total, 12);
    return true;
  };
  const absl::StatusOr<InSituProgrammingResult> result =
      ProgramCoresInSitu(*model, *placement, oracle, start, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls, 12);
  ASSERT_EQ(result->final_residual.size(), 5u);
  EXPECT_GT(Mean(result->initial_residual), 0.05);
  for (double residual : result->final_residual) EXPECT_LT(residual, 1e-9);
  // The ideal receivers: no offset, the nominal gain 1 / (2 sqrt(P_laser P_LO)).
  for (int c : placement->circuits) {
    const photonsim::CircuitLayout& circuit = layout.circuits[c];
    for (int i = 0; i < circuit.output_count; ++i) {
      const int output = circuit.first_output + i;
      if (result->output_gain_per_mw[output] == 0.0) continue;  // a row the model does not use
      EXPECT_NEAR(result->output_gain_per_mw[output], 0.5, 1e-6);
      EXPECT_NEAR(result->output_offset_mw[output], 0.0, 1e-12);
    }
  }
  // Per step: 3 settings of each of 32 phases (sweeps), 2 shifts of each
  // (refinements), k + 1 = 5 queries per measurement.
  EXPECT_EQ(result->sweeps, 2);
  EXPECT_EQ(result->refinements, 10);
  EXPECT_GE(result->queries, 5 * (2 * 32 * 3 + 10 * 32 * 2));
  EXPECT_EQ(oracle.cost().queries, result->queries);
}

TEST(InSituProgrammingTest, OnAFabricatedChipTheMeasuredLogitsComeCloseToTheModels) {
  absl::StatusOr<Model> model = Model::Build(testing::TinyModelSpec(), Realisation::kOptical, 2);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip =
      testing::WithOnnSvd8x24Errors(ChipForModel(*model, Instruments()));
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok()) << placement.status();
  absl::StatusOr<std::unique_ptr<photonsim::SimChip>> sim = photonsim::SimChip::Create(chip, 3);
  ASSERT_TRUE(sim.ok()) << sim.status();
  testing::RawSimOracle oracle(**sim, chip);
  const photonsim::ChipLayout& layout = oracle.layout();
  const std::vector<double> deployed =
      DeployedPhases(*model, layout, *placement, std::vector<double>(layout.phase_count, 0.0));
  const Dataset data = MakeClusters(40, 16, 3, 0.2, 5);
  const Eigen::MatrixXd expected = model->Forward(data.features);
  auto logit_error = [&](const ChipPlacement& used) {
    const absl::StatusOr<Eigen::MatrixXd> measured =
        ChipForward(*model, used, oracle, data.features);
    EXPECT_TRUE(measured.ok()) << measured.status();
    return (*measured - expected).norm() / expected.norm();
  };
  ASSERT_TRUE(oracle.SetPhases(deployed).ok());
  const double nominal_error = logit_error(*placement);

  InSituProgrammingOptions options;
  options.sweeps = 3;
  options.refinements = 12;
  const absl::StatusOr<InSituProgrammingResult> result =
      ProgramCoresInSitu(*model, *placement, oracle, deployed, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ChipPlacement calibrated = *placement;
  ApplyReceiverCalibration(*result, calibrated);
  const double programmed_error = logit_error(calibrated);
  EXPECT_GT(nominal_error, 0.5);
  EXPECT_LT(programmed_error, 0.1) << "nominal " << nominal_error;

  EXPECT_LT(Mean(result->final_residual), 0.1 * Mean(result->initial_residual));
}

// The ideal chip, refusing every fourth new configuration as a chip
// refuses one it cannot reach (FAILED_PRECONDITION); a configuration it
// once took it takes again.
class RefusingOracle final : public ChipOracle {
 public:
  explicit RefusingOracle(const photonic::v1::ChipDescription& chip) : chip_(chip) {}
  const photonsim::ChipLayout& layout() const override { return chip_.layout(); }
  absl::Status SetPhases(std::span<const double> phases_rad) override {
    std::vector<double> state(phases_rad.begin(), phases_rad.end());
    if (!taken_.contains(state) && ++writes_ % 4 == 0) {
      ++refused_;
      return absl::FailedPreconditionError("phase cannot be reached");
    }
    taken_.insert(std::move(state));
    return chip_.SetPhases(phases_rad);
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    return chip_.Query(amplitudes);
  }
  double HeaterPowerMw(std::span<const double> p) const override { return chip_.HeaterPowerMw(p); }
  std::vector<double> HeaterPowersMw(std::span<const double> p) const override {
    return chip_.HeaterPowersMw(p);
  }
  double PhasePowerMw(int i, double p) const override { return chip_.PhasePowerMw(i, p); }
  OracleCost cost() const override { return chip_.cost(); }
  int refused() const { return refused_; }

 private:
  ModelOracle chip_;
  std::set<std::vector<double>> taken_;
  int writes_ = 0;
  int refused_ = 0;
};

TEST(InSituProgrammingTest, RefusedWritesAreSkippedAndTheProgrammingGoesOn) {
  absl::StatusOr<Model> model = Model::Build(testing::TinyModelSpec(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  RefusingOracle oracle(chip);
  const photonsim::ChipLayout& layout = oracle.layout();
  const std::vector<double> start = DisturbedDeployment(*model, *placement, layout);
  InSituProgrammingOptions options;
  options.sweeps = 2;
  options.refinements = 10;
  const absl::StatusOr<InSituProgrammingResult> result =
      ProgramCoresInSitu(*model, *placement, oracle, start, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->refused_writes, oracle.refused());
  EXPECT_GT(result->refused_writes, 10);
  EXPECT_EQ(result->sweeps, 2);
  EXPECT_EQ(result->refinements, 10);
  EXPECT_LT(Mean(result->final_residual), 0.01 * Mean(result->initial_residual));
}

TEST(InSituProgrammingTest, RefusesBadOptionsAndAWrongPhaseVectorWithoutWriting) {
  absl::StatusOr<Model> model = Model::Build(testing::TinyModelSpec(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  ModelOracle oracle(chip);
  const std::vector<double> phases(oracle.layout().phase_count, 0.0);
  for (auto mutate : std::vector<std::function<void(InSituProgrammingOptions&)>>{
           [](auto& o) { o.sweeps = -1; }, [](auto& o) { o.refinements = 101; },
           [](auto& o) { o.shift_rad = 0.0; }, [](auto& o) { o.max_gain_factor = 0.5; },
           [](auto& o) { o.shift_rad = std::nan(""); }}) {
    InSituProgrammingOptions options;
    mutate(options);
    EXPECT_EQ(ProgramCoresInSitu(*model, *placement, oracle, phases, options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  const std::vector<double> short_phases(3, 0.0);
  const absl::Status wrong =
      ProgramCoresInSitu(*model, *placement, oracle, short_phases, {}).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("start phases have 3 values"), std::string::npos) << wrong;
  EXPECT_EQ(oracle.cost().phase_writes, 0);
  EXPECT_EQ(oracle.cost().queries, 0);
}

}  // namespace
}  // namespace phc::trainers::onn
