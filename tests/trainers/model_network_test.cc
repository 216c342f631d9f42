// A deployed model as a zeroth-order run's network (DeployedModelNetwork):
// its trained phases are its cores' phases on the chip, and sparse ZO
// through its chip-executed forward pass recovers accuracy a deployment
// error took away. The ideal chip (ModelOracle) with a multiplicative phase
// error written into the deployment stands for the paper's setting (Gu et
// al., AAAI 2021: phi (1 + gamma) on every device).
#include "phc/trainers/onn/model_network.h"

#include <gtest/gtest.h>

#include <random>

#include "phc/trainers/algorithms.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/training_loop.h"
#include "photonsim/chip_layout.h"
#include "tests/model_specs.h"
#include "tests/test_chips.h"

namespace phc::trainers::onn {
namespace {

photonic::v1::ChipDescription Instruments() {
  return testing::ModelInstruments(12 * 50.0);  // 50 mW per phase
}

TEST(DeployedModelNetworkTest, TrainsTheModelsCorePhasesAndKeepsReceiverCalibration) {
  absl::StatusOr<Model> model =
      Model::Build(phc::testing::TinyModelSpec(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  const int phases = model->phase_count();
  DeployedModelNetwork network(*std::move(model), *placement, layout);
  ASSERT_EQ(static_cast<int>(network.trainable_phases().size()), phases);
  // 4x4 cores: per core 12 V-mesh phases, then 4 attenuators.
  EXPECT_FALSE(network.attenuator_phases()[11]);
  EXPECT_TRUE(network.attenuator_phases()[12]);
  EXPECT_TRUE(network.attenuator_phases()[15]);
  EXPECT_FALSE(network.attenuator_phases()[16]);
  EXPECT_TRUE(network.SaveState().empty());  // nominal receivers

  std::vector<double> state(2 * layout.output_count, 1.0);
  state.front() = 0.25;
  ASSERT_TRUE(network.RestoreState(state).ok());
  EXPECT_EQ(network.placement().output_offset_mw.front(), 0.25);
  EXPECT_EQ(network.SaveState(), state);
  state.pop_back();
  EXPECT_EQ(network.RestoreState(state).code(), absl::StatusCode::kDataLoss);
}

TEST(DeployedModelNetworkTest, SparseZoRecoversAccuracyAPhaseErrorTookAway) {
  const photonic::v1::ModelSpec spec = phc::testing::TinyModelSpec("tiny", 6);
  absl::StatusOr<Model> model = Model::Build(spec, Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok());
  absl::StatusOr<ModelData> data = LoadModelData(spec, {}, 600, 300);
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(TrainInSilico(*model, data->train, data->test,
                            {.epochs = 20, .batch_size = 16, .learning_rate = 0.01, .seed = 3})
                  .ok());
  const double in_silico = EvaluateAccuracy(*model, data->test);
  ASSERT_GT(in_silico, 0.9);

  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  ModelOracle oracle(chip);
  absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  // Deployed with every phase off by a factor 1 + gamma, gamma ~ N(0, 0.1).
  std::vector<double> deployed = DeployedPhases(
      *model, oracle.layout(), *placement, std::vector<double>(oracle.layout().phase_count, 0.0));
  std::mt19937_64 rng(7);
  std::normal_distribution<double> gamma(0.0, 0.1);
  for (double& phase : deployed) phase *= 1.0 + gamma(rng);

  DeployedModelNetwork network(*std::move(model), *placement, oracle.layout());
  AlgorithmConfig config{.name = "sparse_zo",
                         .active_fraction = 1.0,
                         .visit_fraction = 0.5,
                         .step_decay = 0.985,
                         .decay_every = 600 / 32,
                         .seed = 5};
  absl::StatusOr<std::unique_ptr<ZoOptimizer>> optimizer = MakeOptimizer(config, network, oracle);
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  std::vector<double> params;
  for (int index : network.trainable_phases()) params.push_back(deployed[index]);
  TrainingRun run(oracle, network, data->train, data->test, *std::move(optimizer),
                  {.batch_size = 32, .max_steps = 40, .eval_every = 0, .eval_samples = 0}, deployed,
                  params);
  const double before = *run.Evaluate(data->test, 0);
  while (!run.done()) ASSERT_TRUE(run.Step().ok());
  const double after = *run.Evaluate(data->test, 0);
  EXPECT_LT(before, in_silico - 0.1) << "the phase error must cost accuracy";
  EXPECT_GT(after, before + 0.5 * (in_silico - before))
      << "before " << before << " after " << after << " ideal " << in_silico;
}

}  // namespace
}  // namespace phc::trainers::onn

namespace phc::trainers::onn {
namespace {

// The baselines a deployed model can be fine-tuned by are built by name;
// sparse_cocd trains only sparse ZO's active set (attenuators always).
TEST(DeployedModelNetworkTest, BaselinesAreBuiltByNameAndSparseCocdKeepsItsMask) {
  const photonic::v1::ModelSpec spec = phc::testing::TinyModelSpec("tiny", 6);
  absl::StatusOr<Model> model = Model::Build(spec, Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  ModelOracle oracle(chip);
  absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  const DeployedModelNetwork network(*std::move(model), *placement, oracle.layout());
  for (const std::string name : {"stp", "cocd", "sparse_cocd"}) {
    absl::StatusOr<std::unique_ptr<ZoOptimizer>> optimizer =
        MakeOptimizer({.name = name, .active_fraction = 0.3, .seed = 2}, network, oracle);
    ASSERT_TRUE(optimizer.ok()) << name << ": " << optimizer.status();
    EXPECT_EQ((*optimizer)->name(), name);
  }
  const AlgorithmConfig sparse{.name = "sparse_cocd", .active_fraction = 0.3, .seed = 2};
  const std::vector<bool> active =
      SparseZoActiveMask(SparseZoOptionsFrom(sparse), network.attenuator_phases());
  auto optimizer = MakeOptimizer(sparse, network, oracle);
  ASSERT_TRUE(optimizer.ok());
  std::vector<double> params(network.trainable_phases().size(), 1.0);
  const LossFn loss = [](std::span<const double> x) -> absl::StatusOr<double> {
    double f = 0.0;
    for (double v : x) f += v * v;
    return f;
  };
  for (int step = 0; step < 200; ++step) ASSERT_TRUE((*optimizer)->Step(params, loss, step).ok());
  int moved_active = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (active[i]) {
      moved_active += params[i] < 1.0;
    } else {
      EXPECT_EQ(params[i], 1.0) << "inactive parameter " << i << " moved";
    }
  }
  EXPECT_GT(moved_active, 0);

  const absl::Status bad =
      ValidateAlgorithmConfig({.name = "cocd", .memory_decay = 1.5, .seed = 1});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("memory_decay"), std::string::npos) << bad;
  const absl::Status unknown = ValidateAlgorithmConfig({.name = "zo_newton"});
  EXPECT_NE(unknown.message().find("cocd, sparse_cocd, zo_adam"), std::string::npos) << unknown;
  const absl::Status no_visits =
      ValidateAlgorithmConfig({.name = "zo_adam", .visit_fraction = 0.0, .seed = 1});
  EXPECT_EQ(no_visits.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_visits.message().find("visit_fraction"), std::string::npos) << no_visits;
}

}  // namespace
}  // namespace phc::trainers::onn
