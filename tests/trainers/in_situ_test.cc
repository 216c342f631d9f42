// In situ training against a physical system with hidden systematic errors
// (a twin network whose meshes have coupler and phase errors): a model
// trained in silico loses accuracy when deployed; physics-aware and dual
// adaptive training recover it, and DAT's error-prediction layers learn to
// reproduce the physical powers.
#include <gtest/gtest.h>

#include <random>

#include "phc/trainers/diff/in_situ_run.h"

namespace phc::trainers::diff {
namespace {

constexpr int kModes = 4;

MeshErrors Errors(const photonsim::MziMesh& mesh, double std_rad, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, std_rad);
  MeshErrors errors;
  for (int k = 0; k < 2 * mesh.mzi_count(); ++k) errors.splitting_rad.push_back(gauss(rng));
  for (int k = 0; k < mesh.phase_count(); ++k) errors.phase_offset_rad.push_back(gauss(rng));
  return errors;
}

class InSituTest : public ::testing::Test {
 protected:
  void SetUp() override {
    train_ = MakeClusters(600, kModes, 3, 0.12, 5);
    test_ = MakeClusters(300, kModes, 3, 0.12, 5, 1);
    std::mt19937_64 error_rng(3);
    model_ = BuildBlockOnn(kModes, 2, 3, true, 2);
    physical_net_ = BuildBlockOnn(kModes, 2, 3, false, 2);
    for (MeshLayer* mesh : physical_net_.meshes()) {
      mesh->SetErrors(Errors(mesh->topology(), 0.3, error_rng));
    }
    options_.epochs = 15;
    options_.batch = 50;
    options_.learning_rate = 0.05;
    for (auto* p : Predictions()) p->set_enabled(false);
    TrainInSilico(model_, train_, test_, options_);
    for (auto* p : Predictions()) p->set_enabled(true);
    silico_ = ModelAccuracy(model_, test_);
  }

  std::vector<PredictionLayer*> Predictions() {
    std::vector<PredictionLayer*> out;
    for (const auto& layer : model_.layers()) {
      if (auto* p = dynamic_cast<PredictionLayer*>(layer.get())) out.push_back(p);
    }
    return out;
  }

  Dataset train_, test_;
  Network model_, physical_net_;
  TrainOptions options_;
  double silico_ = 0.0;
};

TEST_F(InSituTest, DeployedModelLosesAccuracyAndDualAdaptiveTrainingRecoversIt) {
  NetworkMeasurer physical(physical_net_);
  ASSERT_GT(silico_, 0.85) << "the in silico model learned the task";
  const double deployed = *PhysicalAccuracy(model_, physical, test_);
  std::printf("silico %.3f deployed %.3f\n", silico_, deployed);
  EXPECT_LT(deployed, silico_ - 0.05) << "the hidden errors cost accuracy";

  std::vector<EpochReport> reports;
  TrainOptions dat = options_;
  dat.epochs = 20;
  dat.learning_rate = 0.01;
  dat.sepn_learning_rate = 0.02;
  ASSERT_TRUE(TrainInSitu(model_, physical, InSituMethod::kDualAdaptive, train_, test_, dat,
                          [&](const EpochReport& r) { reports.push_back(r); })
                  .ok());
  ASSERT_EQ(reports.size(), 20u);
  EXPECT_LT(reports.back().similarity_mse, reports.front().similarity_mse / 10)
      << "the error-prediction layers learn the physical powers";
  EXPECT_GT(reports.back().accuracy, deployed + 0.1);
  EXPECT_GT(reports.back().accuracy, silico_ - 0.08) << "close to the in silico accuracy";
  EXPECT_EQ(reports.back().measurements, 20 * 600 * 2) << "one measurement per sample and block";
}

TEST_F(InSituTest, DatRefusesAModelWithoutErrorPredictions) {
  Network plain = BuildBlockOnn(kModes, 2, 3, false, 1);
  NetworkMeasurer physical(physical_net_);
  EXPECT_EQ(
      TrainInSitu(plain, physical, InSituMethod::kDualAdaptive, train_, test_, options_).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(InSituTest, SessionRunPretrainsStepsStopsAndResumesFromItsCheckpoint) {
  NetworkMeasurer physical(physical_net_);
  InSituConfig config{.method = "dat",
                      .modes = kModes,
                      .blocks = 2,
                      .classes = 3,
                      .batch_size = 50,
                      .learning_rate = 0.01,
                      .pretrain_epochs = 15,
                      .prediction_warmup_steps = 12,
                      .max_steps = 40,
                      .eval_every = 20,
                      .eval_samples = 0,
                      .seed = 4};
  auto run = InSituRun::Create(config, train_, test_, physical);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_GT((*run)->model_accuracy(), 0.85) << "pretrained in silico";
  for (int k = 0; k < 20; ++k) ASSERT_TRUE((*run)->Step().ok());
  EXPECT_GE((*run)->progress().test_accuracy, 0.0) << "evaluated at step 20";
  EXPECT_EQ((*run)->measurements(), 20 * 50 * 2);

  // A checkpoint taken now, restored into a fresh run, continues identically
  // (the physical twin is noiseless, so the two runs must agree exactly).
  const RunCheckpoint checkpoint = (*run)->Save();
  EXPECT_EQ(checkpoint.params, (*run)->SaveParameters());
  EXPECT_EQ(checkpoint.optimizer_state, (*run)->SaveOptimizerState());
  auto resumed = InSituRun::Create(config, train_, test_, physical, &checkpoint.params);
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE((*resumed)->Restore(checkpoint).ok());
  while (!(*run)->done()) ASSERT_TRUE((*run)->Step().ok());
  while (!(*resumed)->done()) ASSERT_TRUE((*resumed)->Step().ok());
  EXPECT_EQ((*run)->progress().step, 40);
  EXPECT_EQ((*run)->stop_reason(), StopReason::kMaxSteps);
  EXPECT_EQ((*run)->SaveParameters(), (*resumed)->SaveParameters());

  RunCheckpoint misfit = checkpoint;
  misfit.params = {1.0};
  EXPECT_EQ((*resumed)->Restore(misfit).code(), absl::StatusCode::kDataLoss);
}

TEST(InSituConfigTest, RejectsUnknownMethodsAndBadSizes) {
  EXPECT_EQ(ValidateInSituConfig({.method = "gift"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateInSituConfig({.method = "pat", .blocks = 0}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateInSituConfig({.method = "dat", .learning_rate = 2.0}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateInSituConfig({.method = "dat"}).ok());
}

}  // namespace
}  // namespace phc::trainers::diff
