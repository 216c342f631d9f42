// A model executed on a chip: placement and its refusals, the deployed phase
// vector, chip descriptions sized for models, and the chip-executed forward
// pass on the ideal chip (ModelOracle), which must reproduce the in silico
// logits: the physics of the coherent readout and the electronics' scaling
// are then exactly the model's.
#include <gtest/gtest.h>

#include <random>

#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/chip_layout.h"
#include "tests/test_chips.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::ModelSpec;

ModelSpec SmallCnn() {
  ModelSpec spec;
  spec.set_name("small_cnn");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(6);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  auto* conv = spec.add_layers()->mutable_conv();
  conv->set_channels(3);
  conv->set_kernel(2);
  conv->set_stride(2);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  spec.add_layers()->mutable_linear()->set_outputs(5);
  spec.add_layers()->mutable_relu()->set_clip(4.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

photonic::v1::ChipDescription Instruments() {
  return testing::ModelInstruments(12 * 50.0);  // 50 mW per phase
}

TEST(ChipExecutionTest, ChipForModelHasExactlyTheCoresTheModelNeeds) {
  absl::StatusOr<Model> model = Model::Build(SmallCnn(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  // conv: patch 4 -> 3 channels: 1 core; 27 -> 5: 7 x 2 = 14; 5 -> 3: 2 cores.
  EXPECT_EQ(model->core_count(), 1 + 14 + 2);
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  EXPECT_EQ(chip.name(), "small_cnn_chip");
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  EXPECT_EQ(static_cast<int>(layout.circuits.size()), model->core_count());
  EXPECT_EQ(layout.phase_count, model->phase_count());
  EXPECT_TRUE(chip.modulator().bipolar());
  EXPECT_DOUBLE_EQ(chip.max_total_heater_power_mw(), 50.0 * model->phase_count());
  EXPECT_EQ(chip.heater().p_pi_mw(), 25);
}

TEST(ChipExecutionTest, PlacementRefusesWhatCannotRun) {
  absl::StatusOr<Model> model = Model::Build(SmallCnn(), Realisation::kOptical, 1);
  ASSERT_TRUE(model.ok());
  photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  EXPECT_TRUE(PlaceModel(*model, chip).ok());

  photonic::v1::ChipDescription small = chip;
  small.mutable_circuits(0)->set_count(16);
  const absl::Status too_small = PlaceModel(*model, small).status();
  EXPECT_EQ(too_small.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(
      too_small.message().find("needs 17 coherent SVD cores of size 4; chip small_cnn_chip has 16"),
      std::string::npos)
      << too_small;

  photonic::v1::ChipDescription intensity = chip;
  intensity.mutable_circuits(0)->mutable_svd()->set_coherent_readout(false);
  EXPECT_EQ(PlaceModel(*model, intensity).status().code(), absl::StatusCode::kFailedPrecondition);

  photonic::v1::ChipDescription unipolar = chip;
  unipolar.mutable_modulator()->set_bipolar(false);
  EXPECT_NE(PlaceModel(*model, unipolar).status().message().find("bipolar"), std::string::npos);

  absl::StatusOr<Model> twin = Model::Build(SmallCnn(), Realisation::kDigital, 1);
  EXPECT_EQ(PlaceModel(*twin, chip).status().code(), absl::StatusCode::kFailedPrecondition);

  ModelSpec unbounded = SmallCnn();
  unbounded.mutable_layers(3)->mutable_relu()->set_clip(0.0);
  absl::StatusOr<Model> open_model = Model::Build(unbounded, Realisation::kOptical, 1);
  ASSERT_TRUE(open_model.ok());
  const absl::Status open = PlaceModel(*open_model, chip).status();
  EXPECT_NE(open.message().find("model layer 4 is optical but its inputs are unbounded"),
            std::string::npos)
      << open;
}

TEST(ChipExecutionTest, DeployedPhasesPutEachCoreOnItsCircuitAndKeepTheRest) {
  absl::StatusOr<Model> model = Model::Build(SmallCnn(), Realisation::kOptical, 2);
  ASSERT_TRUE(model.ok());
  photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  chip.mutable_circuits(0)->set_count(20);  // three spare cores
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok());
  const std::vector<double> others(layout.phase_count, -7.0);
  const std::vector<double> phases = DeployedPhases(*model, layout, *placement, others);
  const Eigen::VectorXd parameters = model->Parameters();
  // Layer 0's kernel: parameters 0 (gain), then core 0's 32 phases on circuit 0.
  for (int p = 0; p < 32; ++p) EXPECT_EQ(phases[p], parameters(1 + p));
  // The spare cores keep `others`.
  const photonsim::CircuitLayout& spare = layout.circuits[17];
  for (int p = spare.first_phase; p < layout.phase_count; ++p) EXPECT_EQ(phases[p], -7.0);
  EXPECT_EQ(std::count(phases.begin(), phases.end(), -7.0), 3 * 32);
}

TEST(ChipExecutionTest, OnTheIdealChipTheMeasuredLogitsAreTheModels) {
  absl::StatusOr<Model> model = Model::Build(SmallCnn(), Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok());
  const photonic::v1::ChipDescription chip = ChipForModel(*model, Instruments());
  const absl::StatusOr<ChipPlacement> placement = PlaceModel(*model, chip);
  ASSERT_TRUE(placement.ok()) << placement.status();
  ModelOracle oracle(chip);
  const photonsim::ChipLayout& layout = oracle.layout();
  ASSERT_TRUE(oracle
                  .SetPhases(DeployedPhases(*model, layout, *placement,
                                            std::vector<double>(layout.phase_count, 0.0)))
                  .ok());
  const Dataset data = MakeClusters(7, 36, 3, 0.2, 4);
  const absl::StatusOr<Eigen::MatrixXd> measured =
      ChipForward(*model, *placement, oracle, data.features);
  ASSERT_TRUE(measured.ok()) << measured.status();
  const Eigen::MatrixXd expected = model->Forward(data.features);
  EXPECT_LT((*measured - expected).cwiseAbs().maxCoeff(), 1e-9 * expected.cwiseAbs().maxCoeff());
  // One query per sample and patch of the convolution (3 x 3 positions),
  // and one per sample for each linear layer.
  EXPECT_EQ(oracle.cost().queries, 7 * (9 + 1 + 1));

  int calls = 0;
  const absl::StatusOr<ChipEvaluation> evaluation = ChipAccuracy(
      *model, *placement, oracle, data,
      [&](int done, int total) {
        EXPECT_EQ(total, 7);
        ++calls;
        return done < 4;  // stop after the second batch
      },
      /*batch_size=*/3);
  ASSERT_TRUE(evaluation.ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(evaluation->samples, 6);
  EXPECT_EQ(evaluation->queries, 6 * 11);
}

}  // namespace
}  // namespace phc::trainers::onn
