// Programming a deployed model in situ, without gRPC: on a fabricated chip
// (random phase biases, heater spread, crosstalk, lossy optics) the model
// deployed with the nominal phase model is near chance; after the calibration
// (heater efficiencies) and ModelProgrammingRun's hardware-thread steps the
// deployment holds the programmed phases and receivers, and Evaluate measures
// close to the in silico accuracy. A run stopped early puts the deployed
// phases back; bad options and an undeployed model are refused.
#include "daemon/models/model_programming.h"

#include <gtest/gtest.h>

#include "daemon/calibration/calibrator.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/models/deployment.h"
#include "daemon/models/in_silico_training.h"
#include "daemon/models/model_evaluation.h"
#include "daemon/models/model_store.h"
#include "tests/model_specs.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonic::v1::StoredModel;

// Six coherent 4x4 SVD cores with onn_svd8x24's fabrication errors.
photonic::v1::ChipDescription FabricatedCoherentChip() {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(2);
  chip.set_name("coherent_fabricated");
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->set_count(6);
  circuit->mutable_svd()->set_size(4);
  circuit->mutable_svd()->set_coherent_readout(true);
  circuit->mutable_svd()->set_lo_power_mw(1.0);
  chip.mutable_modulator()->set_bipolar(true);
  chip.set_max_total_heater_power_mw(6 * 32 * 60.0);
  return phc::testing::WithOnnSvd8x24Errors(chip);
}

struct Deployed {
  phc::testing::SimBench bench;
  std::unique_ptr<ModelStore> store;
  StoredModel stored;
};

// Trains the tiny model (16 -> 4 -> 3 on 4x4 cores) and deploys it.
Deployed TrainAndDeploy(const photonic::v1::ChipDescription& chip, int epochs) {
  Deployed d;
  absl::StatusOr<phc::testing::SimBench> bench = phc::testing::MakeSimBench(chip, 1);
  EXPECT_TRUE(bench.ok()) << bench.status();
  d.bench = *std::move(bench);
  d.store = std::make_unique<ModelStore>(std::filesystem::path(), chip.name());
  photonic::v1::TrainInSilicoRequest request;
  request.set_model_id("tiny");
  *request.mutable_spec() = phc::testing::TinyModelSpec();
  request.set_epochs(static_cast<std::uint32_t>(epochs));
  request.set_batch_size(16);
  request.set_learning_rate(0.01);
  request.set_seed(3);
  request.set_train_limit(600);
  request.set_test_limit(90);
  absl::StatusOr<InSilicoJob> job = ValidateTrainInSilico(request, *d.store, {});
  EXPECT_TRUE(job.ok()) << job.status();
  absl::StatusOr<StoredModel> trained = RunInSilicoTraining(
      *job, {}, chip.name(), [](const auto&) {}, nullptr);
  EXPECT_TRUE(trained.ok()) << trained.status();
  EXPECT_TRUE(d.store->Add(*trained).ok());
  d.stored = *trained;
  ChipController& controller = *d.bench.controller;
  absl::StatusOr<DeploymentPlan> plan = PlanDeployment(d.stored, chip, controller.layout());
  EXPECT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(controller.RunSync([&] { return DeployModel(controller, *d.store, *plan); }).ok());
  return d;
}

photonic::v1::EvaluateProgress Evaluate(Deployed& d, const photonic::v1::ChipDescription& chip) {
  absl::StatusOr<EvaluationSetup> setup = PrepareEvaluation(d.stored, chip, {}, 90);
  EXPECT_TRUE(setup.ok()) << setup.status();
  ChipController& controller = *d.bench.controller;
  ModelEvaluationRun run(controller, *d.store, *std::move(setup), 1, 32);
  photonic::v1::EvaluateProgress last;
  const absl::Status evaluated = controller.RunSync([&]() -> absl::Status {
    absl::Status status = run.Begin();
    while (status.ok() && !run.done()) {
      absl::StatusOr<photonic::v1::EvaluateProgress> progress = run.Step();
      status = progress.status();
      if (progress.ok()) last = *progress;
    }
    run.End();
    return status;
  });
  EXPECT_TRUE(evaluated.ok()) << evaluated;
  return last;
}

photonic::v1::ProgramInSituRequest Request(std::uint32_t sweeps, std::uint32_t refinements) {
  photonic::v1::ProgramInSituRequest request;
  request.set_model_id("tiny");
  request.set_sweeps(sweeps);
  request.set_refinements(refinements);
  return request;
}

TEST(ModelProgrammingTest, CalibratedAndProgrammedChipComesBackToTheInSilicoAccuracy) {
  const photonic::v1::ChipDescription chip = FabricatedCoherentChip();
  Deployed d = TrainAndDeploy(chip, 8);
  ASSERT_NE(d.bench.controller, nullptr);
  ChipController& controller = *d.bench.controller;
  const photonic::v1::EvaluateProgress nominal = Evaluate(d, chip);
  ASSERT_GT(nominal.in_silico_accuracy(), 0.6);  // chance: 1/3

  // The calibration measures the cores' heater efficiencies (and ends the
  // deployment: it drives the chip safe), so the model is deployed again.
  absl::StatusOr<photonic::v1::PhaseCalibration> calibration = controller.RunSync(
      [&] { return RunCalibration(controller, CalibrationOptions(), {}, nullptr); });
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  int measured = 0;
  for (bool f : calibration->efficiency_fitted()) measured += f;
  EXPECT_GT(measured, 6 * 32 * 9 / 10);
  // Biases are left to the programming; the design's crosstalk is fed forward.
  for (bool fitted : calibration->fitted()) EXPECT_FALSE(fitted);
  EXPECT_DOUBLE_EQ(calibration->crosstalk_nearest(), chip.thermal().crosstalk_nearest());
  absl::StatusOr<DeploymentPlan> plan = PlanDeployment(d.stored, chip, controller.layout());
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(controller.RunSync([&] { return DeployModel(controller, *d.store, *plan); }).ok());

  absl::StatusOr<ProgrammingSetup> setup = PrepareProgramming(d.stored, chip, Request(3, 12));
  ASSERT_TRUE(setup.ok()) << setup.status();
  ModelProgrammingRun run(controller, *d.store, *std::move(setup), 1);
  std::vector<photonic::v1::ProgramInSituProgress> progress;
  const absl::Status programmed = controller.RunSync([&]() -> absl::Status {
    absl::Status status = run.Begin();
    EXPECT_TRUE(controller.HoldsWriteLease(WriteLeaseHolder::ModelProgramming("tiny")));
    while (status.ok() && !run.done()) {
      absl::StatusOr<photonic::v1::ProgramInSituProgress> step = run.Step();
      status = step.status();
      if (step.ok()) progress.push_back(*step);
    }
    run.End();
    return status;
  });
  ASSERT_TRUE(programmed.ok()) << programmed;
  ASSERT_FALSE(progress.empty());
  for (std::size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].completed(), progress[i - 1].completed());
    EXPECT_GE(progress[i].fraction(), progress[i - 1].fraction());
    // At most ~500 queries per hardware-thread post (a step of 3 x 5 more).
    EXPECT_LE(progress[i].queries() - progress[i - 1].queries(), 500 + 15);
  }
  const photonic::v1::ProgramInSituProgress& last = progress.back();
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.completed(), 15u);
  EXPECT_EQ(last.total(), 15u);
  EXPECT_DOUBLE_EQ(last.fraction(), 1.0);
  EXPECT_LT(last.mean_residual(), 0.1 * last.initial_residual());
  EXPECT_FALSE(controller.RunSync([&] { return controller.write_lease(); }).has_value());

  const absl::StatusOr<photonic::v1::ModelInfo> info = d.store->Info("tiny");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->deployed());
  EXPECT_DOUBLE_EQ(info->programmed_residual(), last.mean_residual());
  const photonic::v1::EvaluateProgress programmed_accuracy = Evaluate(d, chip);
  EXPECT_NEAR(programmed_accuracy.accuracy(), programmed_accuracy.in_silico_accuracy(), 0.1);
  EXPECT_GT(programmed_accuracy.accuracy(), nominal.accuracy() + 0.15)
      << "nominal deployment " << nominal.accuracy();
}

TEST(ModelProgrammingTest, StoppedRunPutsTheDeployedPhasesBack) {
  const photonic::v1::ChipDescription chip = FabricatedCoherentChip();
  Deployed d = TrainAndDeploy(chip, 1);
  ASSERT_NE(d.bench.controller, nullptr);
  ChipController& controller = *d.bench.controller;
  const std::vector<double> deployed = d.store->deployed()->phases_rad;
  absl::StatusOr<ProgrammingSetup> setup = PrepareProgramming(d.stored, chip, Request(2, 2));
  ASSERT_TRUE(setup.ok());
  ModelProgrammingRun run(controller, *d.store, *std::move(setup), 1);
  controller.RunSync([&] {
    ASSERT_TRUE(run.Begin().ok());
    ASSERT_TRUE(run.Step().ok());
    ASSERT_TRUE(run.Step().ok());
    EXPECT_FALSE(SamePhases(controller.GetPhases().phases_rad, deployed));
    run.End();
    EXPECT_TRUE(SamePhases(controller.GetPhases().phases_rad, deployed));
    EXPECT_FALSE(controller.write_lease().has_value());
    EXPECT_TRUE(RefreshDeployment(controller, *d.store).has_value());
  });
  EXPECT_TRUE(d.store->Info("tiny")->deployed());
  EXPECT_EQ(d.store->Info("tiny")->programmed_residual(), -1.0);
}

TEST(ModelProgrammingTest, BadOptionsAndAnUndeployedModelAreRefused) {
  const photonic::v1::ChipDescription chip = FabricatedCoherentChip();
  Deployed d = TrainAndDeploy(chip, 1);
  ASSERT_NE(d.bench.controller, nullptr);
  EXPECT_EQ(PrepareProgramming(d.stored, chip, Request(101, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status refinements = PrepareProgramming(d.stored, chip, Request(0, 101)).status();
  EXPECT_EQ(refinements.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refinements.message().find("refinements = 101"), std::string::npos) << refinements;
  absl::StatusOr<ProgrammingSetup> defaults = PrepareProgramming(d.stored, chip, Request(0, 0));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.sweeps, 6);
  EXPECT_EQ(defaults->options.refinements, 20);

  ChipController& controller = *d.bench.controller;
  ModelProgrammingRun run(controller, *d.store, *std::move(defaults), 1);
  controller.RunSync([&] {
    const std::vector<double> one = {1.0};
    const std::vector<std::uint32_t> index = {3};
    ASSERT_TRUE(controller.SetPhases(one, index).ok());
    const absl::Status refused = run.Begin();
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_NE(refused.message().find("not deployed"), std::string::npos) << refused;
    EXPECT_FALSE(controller.write_lease().has_value());
    run.End();
  });
}

}  // namespace
}  // namespace phc::daemon
