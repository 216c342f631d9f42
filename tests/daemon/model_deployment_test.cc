// Models from request to chip, without gRPC: a TrainInSilico request is
// validated whole before anything runs, trained on a worker thread, stored,
// deployed onto an ideal coherent chip (every unused heater at zero power)
// and evaluated there in hardware-thread steps, where it must match its in
// silico accuracy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <random>

#include "daemon/chip/chip_controller.h"
#include "daemon/chip/heater_phase_model.h"
#include "daemon/models/deployment.h"
#include "daemon/models/in_silico_training.h"
#include "daemon/models/model_evaluation.h"
#include "daemon/models/model_store.h"
#include "daemon/models/model_workers.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/chip_layout.h"
#include "photonsim/phase.h"
#include "photonsim/sim_chip.h"
#include "tests/model_specs.h"
#include "tests/sim_bench.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

using photonic::v1::ModelSpec;
using photonic::v1::StoredModel;
using photonic::v1::TrainInSilicoRequest;

bool Mentions(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

// `cores` ideal coherent 4x4 SVD cores, bipolar modulators, a budget that
// random phases fit.
photonic::v1::ChipDescription CoherentChip(int cores) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(2);
  chip.set_name("coherent_test");
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->set_count(static_cast<std::uint32_t>(cores));
  circuit->mutable_svd()->set_size(4);
  circuit->mutable_svd()->set_coherent_readout(true);
  circuit->mutable_svd()->set_lo_power_mw(1.0);
  chip.mutable_modulator()->set_bipolar(true);
  chip.set_max_total_heater_power_mw(cores * 32 * 60.0);
  return chip;
}

ModelSpec TinySpec(int hidden = 4) { return phc::testing::TinyModelSpec("tiny", hidden); }

TrainInSilicoRequest TinyRequest(const std::string& id) {
  TrainInSilicoRequest request;
  request.set_model_id(id);
  *request.mutable_spec() = TinySpec();
  request.set_epochs(8);
  request.set_batch_size(16);
  request.set_learning_rate(0.01);
  request.set_seed(3);  // hidden width 4: some seeds leave a ReLU dead (2/3 accuracy)
  request.set_train_limit(600);
  request.set_test_limit(90);
  return request;
}

using Bench = phc::testing::SimBench;

Bench MakeBench(const photonic::v1::ChipDescription& description) {
  absl::StatusOr<Bench> bench = phc::testing::MakeSimBench(description, 1);
  EXPECT_TRUE(bench.ok()) << bench.status();
  return bench.ok() ? *std::move(bench) : Bench{};
}

// Trains `request` as the service does and stores it.
photonic::v1::ModelInfo TrainAndStore(const TrainInSilicoRequest& request, ModelStore& store,
                                      const std::string& chip_name) {
  absl::StatusOr<InSilicoJob> job = ValidateTrainInSilico(request, store, {});
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return {};
  int epochs_seen = 0;
  absl::StatusOr<StoredModel> trained = RunInSilicoTraining(
      *job, {}, chip_name, [&](const trainers::onn::EpochReport&) { ++epochs_seen; }, nullptr);
  EXPECT_TRUE(trained.ok()) << trained.status();
  if (!trained.ok()) return {};
  EXPECT_EQ(epochs_seen, job->options.epochs);
  absl::StatusOr<photonic::v1::ModelInfo> info = store.Add(*std::move(trained));
  EXPECT_TRUE(info.ok()) << info.status();
  return info.value_or(photonic::v1::ModelInfo());
}

TEST(ModelTrainingTest, RequestIsValidatedWholeBeforeAnythingRuns) {
  ModelStore store({}, "coherent_test");
  const std::vector<std::pair<std::function<void(TrainInSilicoRequest&)>, std::string>> cases = {
      {[](TrainInSilicoRequest& r) { r.set_model_id("Bad Id"); }, "model_id"},
      {[](TrainInSilicoRequest& r) { r.clear_spec(); }, "spec"},
      {[](TrainInSilicoRequest& r) { r.mutable_spec()->set_core_size(1); }, "core_size"},
      {[](TrainInSilicoRequest& r) {
         r.mutable_spec()->mutable_layers(2)->mutable_linear()->set_outputs(5);
       },
       "last model layer"},
      {[](TrainInSilicoRequest& r) { r.set_epochs(10001); }, "epochs"},
      {[](TrainInSilicoRequest& r) { r.set_batch_size(70000); }, "batch_size"},
      {[](TrainInSilicoRequest& r) { r.set_learning_rate(std::nan("")); }, "learning_rate"},
      {[](TrainInSilicoRequest& r) { r.set_learning_rate(-1.0); }, "learning_rate"},
      {[](TrainInSilicoRequest& r) { r.set_phase_noise_std_rad(2.0); }, "phase_noise_std_rad"},
      {[](TrainInSilicoRequest& r) { r.set_train_limit(60001); }, "train_limit"},
      {[](TrainInSilicoRequest& r) { r.set_test_limit(10001); }, "test_limit"},
  };
  for (const auto& [mutate, field] : cases) {
    TrainInSilicoRequest request = TinyRequest("m");
    mutate(request);
    const absl::Status refused = ValidateTrainInSilico(request, store, {}).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << field << ": " << refused;
    EXPECT_TRUE(Mentions(refused, field)) << field << ": " << refused;
  }
  // Fashion-MNIST missing: FAILED_PRECONDITION naming the directory.
  TrainInSilicoRequest fashion = TinyRequest("f");
  fashion.mutable_spec()->mutable_input()->set_dataset("fashion-mnist");
  const absl::Status missing =
      ValidateTrainInSilico(fashion, store, "/nonexistent/fashion").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition) << missing;
  EXPECT_TRUE(Mentions(missing, "/nonexistent/fashion")) << missing;
  // Defaults fill zeros.
  TrainInSilicoRequest defaults;
  defaults.set_model_id("d");
  *defaults.mutable_spec() = TinySpec();
  absl::StatusOr<InSilicoJob> job = ValidateTrainInSilico(defaults, store, {});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->options.epochs, 10);
  EXPECT_EQ(job->options.batch_size, 32);
  EXPECT_DOUBLE_EQ(job->options.learning_rate, 2e-3);
  EXPECT_TRUE(store.List().empty());
}

TEST(ModelTrainingTest, CancelledTrainingStoresNothing) {
  ModelStore store({}, "coherent_test");
  absl::StatusOr<InSilicoJob> job = ValidateTrainInSilico(TinyRequest("gone"), store, {});
  ASSERT_TRUE(job.ok());
  std::atomic<bool> cancel{false};
  absl::StatusOr<StoredModel> trained = RunInSilicoTraining(
      *job, {}, "coherent_test", [&](const trainers::onn::EpochReport&) { cancel = true; },
      &cancel);
  EXPECT_EQ(trained.status().code(), absl::StatusCode::kCancelled) << trained.status();
  EXPECT_TRUE(store.List().empty());
}

TEST(ModelWorkersTest, OneTrainingAtATimeAndShutdownCancelsAndJoins) {
  ModelWorkers workers;
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  std::promise<void> started;
  ASSERT_TRUE(workers
                  .StartTraining(cancel,
                                 [&started, cancel] {
                                   started.set_value();
                                   while (!cancel->load()) std::this_thread::yield();
                                 })
                  .ok());
  started.get_future().wait();
  const absl::Status second =
      workers.StartTraining(std::make_shared<std::atomic<bool>>(false), [] {});
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted) << second;
  std::atomic<bool> ran{false};
  ASSERT_TRUE(workers.Start([&ran] { ran = true; }).ok());  // other jobs still run
  workers.Shutdown();                                       // sets cancel, joins both
  EXPECT_TRUE(cancel->load());
  EXPECT_TRUE(ran.load());
  EXPECT_EQ(workers.Start([] {}).code(), absl::StatusCode::kUnavailable);
}

TEST(ModelWorkersTest, SettledTrainingLetsTheNextStartWhileItsThreadFinishes) {
  ModelWorkers workers;
  std::promise<void> settled;
  std::atomic<bool> release{false};
  ASSERT_TRUE(workers
                  .StartTraining(std::make_shared<std::atomic<bool>>(false),
                                 [&] {
                                   workers.TrainingSettled();  // the client is answered next
                                   settled.set_value();
                                   while (!release.load()) std::this_thread::yield();
                                 })
                  .ok());
  settled.get_future().wait();
  // The first thread still runs; the next training is not refused, and the
  // first thread's end does not clear the second's slot.
  auto second_cancel = std::make_shared<std::atomic<bool>>(false);
  ASSERT_TRUE(workers
                  .StartTraining(second_cancel,
                                 [second_cancel] {
                                   while (!second_cancel->load()) std::this_thread::yield();
                                 })
                  .ok());
  release = true;
  EXPECT_EQ(workers.StartTraining(std::make_shared<std::atomic<bool>>(false), [] {}).code(),
            absl::StatusCode::kResourceExhausted);
  workers.Shutdown();
  EXPECT_TRUE(second_cancel->load());
}

TEST(ModelDeploymentTest, UnusedCircuitsStayUnpoweredEvenUnderCalibratedCrosstalk) {
  const photonic::v1::ChipDescription chip = CoherentChip(2);
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  // Nominal model: unused heaters at exactly zero power.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> phase(0.0, photonsim::kTwoPi), eta(0.1, 0.15);
  std::vector<double> wanted(layout.phase_count, 0.0);
  std::vector<bool> mask(layout.phase_count, false);
  // Circuit 0 is the model's; circuit 1 is unused.
  for (int p = 0; p < layout.circuits[0].phase_count; ++p) {
    mask[p] = true;
    wanted[p] = phase(rng);
  }
  const HeaterPhaseModel nominal = HeaterPhaseModel::Nominal(chip);
  const std::vector<double> plain = PhasesWithOthersUnpowered(nominal, wanted, mask);
  const std::vector<double> plain_powers = nominal.PowersForPhases(plain);
  for (int i = 0; i < layout.phase_count; ++i) {
    if (mask[i]) {
      EXPECT_EQ(plain[i], wanted[i]) << i;
    } else {
      EXPECT_EQ(plain_powers[i], 0.0) << i;
    }
  }

  photonic::v1::PhaseCalibration calibration;
  calibration.set_format_version(1);
  calibration.set_chip_name(chip.name());
  for (int i = 0; i < layout.phase_count; ++i) {
    calibration.add_phase_bias_rad(phase(rng));
    calibration.add_efficiency_rad_per_mw(eta(rng));
  }
  calibration.set_crosstalk_nearest(0.04);
  calibration.set_crosstalk_decay_pitch(1.0);
  calibration.set_crosstalk_cutoff_pitch(3.0);
  absl::StatusOr<HeaterPhaseModel> calibrated =
      HeaterPhaseModel::FromCalibration(chip, calibration);
  ASSERT_TRUE(calibrated.ok()) << calibrated.status();
  const std::vector<double> phases = PhasesWithOthersUnpowered(*calibrated, wanted, mask);
  const std::vector<double> powers = calibrated->PowersForPhases(phases);
  const std::vector<double> reached = calibrated->PhasesForPowers(powers);
  for (int i = 0; i < layout.phase_count; ++i) {
    if (mask[i]) {
      EXPECT_EQ(phases[i], wanted[i]) << i;
      EXPECT_LT(std::abs(std::remainder(reached[i] - wanted[i], photonsim::kTwoPi)), 1e-9) << i;
    } else {
      EXPECT_LT(powers[i], 0.05) << "unused heater " << i << " powered";
    }
  }
}

TEST(ModelDeploymentTest, TrainedModelDeploysAndMatchesItsInSilicoAccuracyOnAnIdealChip) {
  const photonic::v1::ChipDescription chip = CoherentChip(6);
  Bench bench = MakeBench(chip);
  ASSERT_NE(bench.controller, nullptr);
  ChipController& controller = *bench.controller;
  ModelStore store({}, chip.name());
  const photonic::v1::ModelInfo info = TrainAndStore(TinyRequest("tiny"), store, chip.name());
  ASSERT_EQ(info.model_id(), "tiny");
  EXPECT_EQ(info.core_count(), 5u);
  EXPECT_GT(info.in_silico_test_accuracy(), 0.6);  // chance: 1/3

  absl::StatusOr<StoredModel> stored = store.Get("tiny");
  ASSERT_TRUE(stored.ok());
  absl::StatusOr<DeploymentPlan> plan = PlanDeployment(*stored, chip, controller.layout());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->placement.circuits, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(plan->model_phase_count, 5 * 32);

  absl::StatusOr<DeployOutcome> deployed =
      controller.RunSync([&] { return DeployModel(controller, store, *plan); });
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  EXPECT_TRUE(deployed->info.deployed());
  const photonsim::CircuitLayout& spare = controller.layout().circuits[5];
  for (int p = 0; p < spare.phase_count; ++p) {
    EXPECT_EQ(deployed->state.heater_power_mw[spare.first_phase + p], 0.0) << p;
  }
  for (int i = 0; i < 5 * 32; ++i) {
    EXPECT_LT(std::abs(std::remainder(deployed->state.phases_rad[i] - plan->phases_rad[i],
                                      photonsim::kTwoPi)),
              1e-12)
        << i;
  }

  absl::StatusOr<EvaluationSetup> setup = PrepareEvaluation(*stored, chip, {}, 90);
  ASSERT_TRUE(setup.ok()) << setup.status();
  ModelEvaluationRun run(controller, store, *std::move(setup), 1, 32);
  photonic::v1::EvaluateProgress last;
  int steps = 0;
  const absl::Status evaluated = controller.RunSync([&]() -> absl::Status {
    if (absl::Status s = run.Begin(); !s.ok()) return s;
    EXPECT_TRUE(controller.HoldsWriteLease(WriteLeaseHolder::ModelEvaluation("tiny")));
    while (!run.done()) {
      absl::StatusOr<photonic::v1::EvaluateProgress> progress = run.Step();
      if (!progress.ok()) {
        run.End();
        return progress.status();
      }
      last = *progress;
      ++steps;
    }
    run.End();
    return absl::OkStatus();
  });
  ASSERT_TRUE(evaluated.ok()) << evaluated;
  EXPECT_EQ(steps, 3);  // 90 samples in batches of 32
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.done_samples(), 90u);
  EXPECT_EQ(last.queries(), 90 * 2);  // one query per sample and optical layer
  EXPECT_GT(last.accuracy(), 0.6);
  EXPECT_NEAR(last.accuracy(), last.in_silico_accuracy(), 1.5 / 90);
  EXPECT_EQ(store.Info("tiny")->last_chip_accuracy(), last.accuracy());
  EXPECT_TRUE(!controller.RunSync([&] { return controller.write_lease(); }).has_value());
}

TEST(ModelDeploymentTest, ChipThatCannotRunTheModelIsRefusedBeforeAnyWrite) {
  const photonic::v1::ChipDescription chip = CoherentChip(6);
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  ModelStore store({}, chip.name());
  TrainInSilicoRequest big = TinyRequest("big");
  *big.mutable_spec() = TinySpec(8);  // 16 -> 8: 8 cores, 8 -> 3: 2 cores
  big.set_epochs(1);
  TrainAndStore(big, store, chip.name());
  const absl::Status too_big = PlanDeployment(*store.Get("big"), chip, layout).status();
  EXPECT_EQ(too_big.code(), absl::StatusCode::kFailedPrecondition) << too_big;
  EXPECT_TRUE(Mentions(too_big, "needs 10 coherent SVD cores of size 4")) << too_big;

  TrainInSilicoRequest twin = TinyRequest("twin");
  twin.set_digital_twin(true);
  twin.set_epochs(1);
  TrainAndStore(twin, store, chip.name());
  EXPECT_EQ(PlanDeployment(*store.Get("twin"), chip, layout).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ModelDeploymentTest, ChangedPhasesEndTheDeploymentAndEvaluationIsRefused) {
  const photonic::v1::ChipDescription chip = CoherentChip(6);
  Bench bench = MakeBench(chip);
  ASSERT_NE(bench.controller, nullptr);
  ChipController& controller = *bench.controller;
  ModelStore store({}, chip.name());
  TrainInSilicoRequest request = TinyRequest("tiny");
  request.set_epochs(1);
  TrainAndStore(request, store, chip.name());
  absl::StatusOr<StoredModel> stored = store.Get("tiny");
  ASSERT_TRUE(stored.ok());
  absl::StatusOr<DeploymentPlan> plan = PlanDeployment(*stored, chip, controller.layout());
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(controller.RunSync([&] { return DeployModel(controller, store, *plan); }).ok());
  EXPECT_EQ(store.Delete("tiny").code(), absl::StatusCode::kFailedPrecondition);

  // Another write moves one phase: the chip no longer holds the model.
  controller.RunSync([&] {
    const std::vector<double> one = {1.0};
    const std::vector<std::uint32_t> index = {3};
    EXPECT_TRUE(controller.SetPhases(one, index).ok());
    EXPECT_FALSE(RefreshDeployment(controller, store).has_value());
  });
  EXPECT_FALSE(store.Info("tiny")->deployed());
  absl::StatusOr<EvaluationSetup> setup = PrepareEvaluation(*stored, chip, {}, 10);
  ASSERT_TRUE(setup.ok());
  ModelEvaluationRun run(controller, store, *std::move(setup), 1, 32);
  const absl::Status refused = controller.RunSync([&] { return run.Begin(); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(Mentions(refused, "not deployed")) << refused;
  EXPECT_TRUE(!controller.RunSync([&] { return controller.write_lease(); }).has_value());
  EXPECT_TRUE(store.Delete("tiny").ok());
}

}  // namespace
}  // namespace phc::daemon
