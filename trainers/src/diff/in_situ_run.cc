#include "phc/trainers/diff/in_situ_run.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/diff/unet_sepn.h"
#include "phc/trainers/onn_model.h"
#include "photonsim/phase.h"

namespace phc::trainers::diff {

Network BuildBlockOnn(int modes, int blocks, int classes, bool predictions, std::uint64_t seed,
                      int meshes_per_block, PredictionKind kind) {
  std::mt19937_64 rng(seed);
  Network net;
  for (int b = 0; b < blocks; ++b) {
    if (b > 0) net.Add(std::make_unique<ReencodeLayer>(modes));
    for (int m = 0; m < meshes_per_block; ++m) {
      net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(modes)));
      if (predictions) net.Add(MakePrediction(kind, modes, rng));
    }
    net.Add(std::make_unique<DetectLayer>(modes));
  }
  net.Add(std::make_unique<DenseLayer>(modes, classes, rng));
  std::uniform_real_distribution<double> phase(0.0, photonsim::kTwoPi);
  for (MeshLayer* mesh : net.meshes()) {
    for (double& p : mesh->parameters()) p = phase(rng);
  }
  return net;
}

absl::Status ValidateInSituConfig(const InSituConfig& c) {
  if (c.method != "pat" && c.method != "dat") {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.name \"", c.method, "\": in situ methods are pat and dat"));
  }
  if (c.modes < 2 || c.blocks < 1 || c.blocks > 16 || c.classes < 2) {
    return absl::InvalidArgumentError(
        "widths: one entry per optical block (each the chip mesh's size), then the classes");
  }
  if (!(c.learning_rate > 0.0 && c.learning_rate < 1.0) ||
      !(c.prediction_learning_rate > 0.0 && c.prediction_learning_rate < 1.0)) {
    return absl::InvalidArgumentError("algorithm.learning_rate must be in (0, 1)");
  }
  if (c.batch_size < 1 || c.pretrain_epochs < 0 || c.pretrain_epochs > 1000) {
    return absl::InvalidArgumentError("batch_size >= 1 and pretrain_epochs in [0, 1000]");
  }
  return absl::OkStatus();
}

InSituRun::InSituRun(const InSituConfig& config, const Dataset& train, const Dataset& test)
    : config_(config),
      test_(test),
      minibatches_(train, config.batch_size, config.seed),
      model_(BuildBlockOnn(config.modes, config.blocks, config.classes, config.method == "dat",
                           config.seed)) {}

absl::StatusOr<std::unique_ptr<InSituRun>> InSituRun::Create(
    const InSituConfig& config, const Dataset& train, const Dataset& test, BlockMeasurer& physical,
    const std::vector<double>* pretrained) {
  if (absl::Status s = ValidateInSituConfig(config); !s.ok()) return s;
  if (train.feature_count() != config.modes) {
    return absl::InvalidArgumentError(absl::StrCat("the data has ", train.feature_count(),
                                                   " features; the mesh has ", config.modes,
                                                   " inputs"));
  }
  std::unique_ptr<InSituRun> run(new InSituRun(config, train, test));
  if (pretrained != nullptr) {
    if (static_cast<int>(pretrained->size()) != run->model_.parameter_count()) {
      return absl::DataLossError("the checkpoint does not fit the model");
    }
    run->model_.SetParameters(Eigen::Map<const Eigen::VectorXd>(
        pretrained->data(), static_cast<Eigen::Index>(pretrained->size())));
  } else {
    TrainOptions silico{.epochs = config.pretrain_epochs,
                        .batch = 100,
                        .learning_rate = config.learning_rate,
                        .seed = config.seed};
    for (const auto& layer : run->model_.layers()) {
      if (auto* p = dynamic_cast<PredictionLayer*>(layer.get())) p->set_enabled(false);
    }
    TrainInSilico(run->model_, train, test, silico);
  }
  run->model_accuracy_ = ModelAccuracy(run->model_, test);
  TrainOptions options{.learning_rate = config.learning_rate,
                       .sepn_learning_rate = config.prediction_learning_rate};
  absl::StatusOr<std::unique_ptr<InSituTrainer>> trainer = InSituTrainer::Create(
      run->model_, physical,
      config.method == "dat" ? InSituMethod::kDualAdaptive : InSituMethod::kPhysicsAware, options);
  if (!trainer.ok()) return trainer.status();
  run->trainer_ = *std::move(trainer);
  run->physical_ = &physical;
  return run;
}

absl::StatusOr<double> InSituRun::Evaluate(const Dataset& data, int samples) {
  if (samples <= 0 || samples >= data.size()) return PhysicalAccuracy(model_, *physical_, data);
  Dataset subset{data.features.topRows(samples),
                 std::vector<int>(data.labels.begin(), data.labels.begin() + samples),
                 data.classes};
  return PhysicalAccuracy(model_, *physical_, subset);
}

absl::StatusOr<TrainingProgress> InSituRun::Step() {
  if (done()) return progress_;
  const Dataset batch = minibatches_.At(progress_.step);
  const Eigen::MatrixXd& features = batch.features;
  const std::vector<int>& labels = batch.labels;
  const std::int64_t measured_before = trainer_->measurements();
  absl::StatusOr<double> loss =
      trainer_->Step(features, labels, progress_.step >= config_.prediction_warmup_steps);
  if (!loss.ok()) return loss.status();
  ++progress_.step;
  progress_.loss = *loss;
  // Counted on from the checkpoint's count when restored.
  progress_.loss_evaluations += trainer_->measurements() - measured_before;
  if (progress_.step % std::max(1, config_.eval_every) == 0 ||
      progress_.step >= config_.max_steps) {
    absl::StatusOr<double> accuracy = Evaluate(test_, config_.eval_samples);
    if (!accuracy.ok()) return accuracy.status();
    progress_.test_accuracy = *accuracy;
    if (config_.target_accuracy > 0.0 && *accuracy >= config_.target_accuracy) {
      stop_reason_ = StopReason::kTargetAccuracy;
    }
  }
  if (progress_.step >= config_.max_steps && stop_reason_ == StopReason::kNone) {
    stop_reason_ = StopReason::kMaxSteps;
  }
  return progress_;
}

std::vector<double> InSituRun::SaveParameters() const {
  const Eigen::VectorXd p = model_.Parameters();
  return {p.data(), p.data() + p.size()};
}

RunCheckpoint InSituRun::Save() const {
  return ParameterCheckpoint(progress_, SaveParameters(), SaveOptimizerState());
}

absl::Status InSituRun::Restore(const RunCheckpoint& checkpoint) {
  const std::vector<double>& parameters = checkpoint.params;
  if (static_cast<int>(parameters.size()) != model_.parameter_count()) {
    return absl::DataLossError("the checkpoint does not fit the model");
  }
  model_.SetParameters(Eigen::Map<const Eigen::VectorXd>(
      parameters.data(), static_cast<Eigen::Index>(parameters.size())));
  if (absl::Status s = trainer_->RestoreState(checkpoint.optimizer_state); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  progress_ = checkpoint.progress;
  if (progress_.step >= config_.max_steps) stop_reason_ = StopReason::kMaxSteps;
  return absl::OkStatus();
}

}  // namespace phc::trainers::diff
