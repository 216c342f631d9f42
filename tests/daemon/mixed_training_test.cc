// The sparse-ZO paper's mixed training (Gu et al., AAAI 2021) on a simulated
// chip through the daemon: the phases sparse ZO does not train are trimmed
// (passive) devices at their deployed values. Sparse ZO fine-tunes without
// ever asking them to move, their channels stay at 0 V and draw nothing,
// and a dense method, which would move them, is refused and changes nothing.
#include <gtest/gtest.h>

#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "phc/trainers/onn/model_network.h"
#include "phc/trainers/training_loop.h"
#include "photonsim/chip_layout.h"
#include "photonsim/phase.h"
#include "photonsim/sim_chip.h"
#include "tests/model_specs.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

namespace onn = trainers::onn;

TEST(MixedTrainingTest, SparseZoNeverDrivesTheTrimmedPhasesAndADenseMethodIsRefused) {
  const photonic::v1::ModelSpec spec = phc::testing::TinyModelSpec("tiny", 6);
  absl::StatusOr<onn::Model> model = onn::Model::Build(spec, onn::Realisation::kOptical, 3);
  absl::StatusOr<onn::Model> copy = onn::Model::Build(spec, onn::Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok() && copy.ok());
  photonic::v1::ChipDescription chip =
      onn::ChipForModel(*model, phc::testing::ModelInstruments(12 * 50.0));
  onn::UsePaperNoiseModel(chip, 1.0);
  absl::StatusOr<onn::ChipPlacement> placement = onn::PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok()) << placement.status();
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);

  // The active set, from a network of the model's copy; the rest trimmed.
  const trainers::AlgorithmConfig config{
      .name = "sparse_zo", .active_fraction = 0.3, .visit_fraction = 0.5, .seed = 5};
  const onn::DeployedModelNetwork probe(*std::move(copy), *placement, layout);
  const std::vector<bool> active = trainers::SparseZoActiveMask(
      trainers::SparseZoOptionsFrom(config), probe.attenuator_phases());
  const std::vector<double> deployed =
      onn::DeployedPhases(*model, layout, *placement, std::vector<double>(layout.phase_count, 0.0));
  const int count = onn::TrimInactivePhases(chip, probe.trainable_phases(), active, deployed);
  ASSERT_GT(count, static_cast<int>(active.size()) / 3);
  std::vector<int> trimmed;
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) trimmed.push_back(probe.trainable_phases()[i]);
  }
  ASSERT_EQ(chip.trimmed_phases_size(), count);
  ASSERT_EQ(chip.trimmed_phases(0).phase(), static_cast<std::uint32_t>(trimmed[0]));
  ASSERT_EQ(chip.trimmed_phases(0).phase_rad(), photonsim::WrapPhase(deployed[trimmed[0]]));
  absl::StatusOr<phc::testing::SimBench> bench = phc::testing::MakeSimBench(chip, 1);
  ASSERT_TRUE(bench.ok()) << bench.status();
  absl::StatusOr<onn::ModelData> data = onn::LoadModelData(spec, {}, 200, 100);
  ASSERT_TRUE(data.ok()) << data.status();

  photonsim::SimChip& sim = *bench->sim;
  auto trimmed_volts_are_zero = [&] {
    for (int index : trimmed) {
      if (sim.heater_voltages_v()[index] != 0.0) return false;
    }
    return true;
  };
  const absl::Status ran = bench->controller->RunSync([&]() -> absl::Status {
    ControllerOracle oracle(*bench->controller, 1);
    if (absl::Status s = oracle.SetPhases(deployed); !s.ok()) return s;
    onn::DeployedModelNetwork network(*std::move(model), *placement, layout);
    absl::StatusOr<std::unique_ptr<trainers::ZoOptimizer>> optimizer =
        trainers::MakeOptimizer(config, network, oracle);
    if (!optimizer.ok()) return optimizer.status();
    std::vector<double> params;
    for (int index : network.trainable_phases()) params.push_back(deployed[index]);
    trainers::TrainingRun run(oracle, network, data->train, data->test, *std::move(optimizer),
                              {.batch_size = 16, .max_steps = 4, .eval_every = 0, .seed = 5},
                              deployed, params);
    sim.TakeHeaterAudit();
    while (!run.done()) {
      absl::StatusOr<trainers::TrainingProgress> step = run.Step();
      if (!step.ok()) return step.status();
      EXPECT_TRUE(trimmed_volts_are_zero()) << "after step " << step->step;
    }
    const photonsim::SimChip::HeaterAudit audit = sim.TakeHeaterAudit();
    EXPECT_GT(audit.writes, 0);
    EXPECT_GT(audit.total_power_mw, 0.0);  // the active heaters

    // STP, from where sparse ZO stopped, perturbs every trained phase, the
    // trimmed ones too: its step is refused whole.
    absl::StatusOr<std::unique_ptr<trainers::ZoOptimizer>> dense =
        trainers::MakeOptimizer({.name = "stp", .seed = 5}, network, oracle);
    if (!dense.ok()) return dense.status();
    const std::vector<double> volts_before = sim.heater_voltages_v();
    trainers::TrainingRun dense_run(oracle, network, data->train, data->test, *std::move(dense),
                                    {.batch_size = 16, .max_steps = 1, .eval_every = 0, .seed = 5},
                                    deployed, run.params());
    const absl::StatusOr<trainers::TrainingProgress> refused = dense_run.Step();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("is trimmed"), std::string::npos) << refused.status();
    EXPECT_EQ(sim.heater_voltages_v(), volts_before);
    return absl::OkStatus();
  });
  ASSERT_TRUE(ran.ok()) << ran;
}

}  // namespace
}  // namespace phc::daemon
