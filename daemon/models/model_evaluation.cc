#include "daemon/models/model_evaluation.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "daemon/models/deployment.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

constexpr int kQueriesPerStep = 500;

}  // namespace

absl::StatusOr<EvaluationSetup> PrepareEvaluation(const photonic::v1::StoredModel& stored,
                                                  const photonic::v1::ChipDescription& chip,
                                                  const std::filesystem::path& fashion_mnist_dir,
                                                  int test_limit) {
  absl::StatusOr<trainers::onn::Model> model = BuildStoredModel(stored);
  if (!model.ok()) return model.status();
  absl::StatusOr<trainers::onn::ChipPlacement> placement = trainers::onn::PlaceModel(*model, chip);
  if (!placement.ok()) return placement.status();
  // One training sample: only the test set is used.
  absl::StatusOr<trainers::onn::ModelData> data = trainers::onn::LoadModelData(
      stored.spec(), trainers::FashionMnistDir(fashion_mnist_dir), 1, test_limit);
  if (!data.ok()) return data.status();
  if (data->test.size() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", stored.info().model_id(), ": its test set is empty"));
  }
  EvaluationSetup setup{.model_id = stored.info().model_id(),
                        .model = *std::move(model),
                        .placement = *std::move(placement),
                        .test = std::move(data->test),
                        .in_silico_correct = {}};
  const Eigen::MatrixXd logits = setup.model.Forward(setup.test.features);
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    logits.row(r).maxCoeff(&best);
    setup.in_silico_correct.push_back(best == setup.test.labels[r]);
  }
  return setup;
}

ModelEvaluationRun::ModelEvaluationRun(ChipController& controller, ModelStore& store,
                                       EvaluationSetup setup, std::uint32_t averages,
                                       int batch_size)
    : controller_(controller),
      store_(store),
      setup_(std::move(setup)),
      averages_(averages),
      // Each step is one post to the hardware thread: at most
      // kQueriesPerStep chip queries (times the averages), so reads
      // interleave even for a CNN's hundreds of queries per sample.
      batch_size_(
          std::clamp(kQueriesPerStep / (trainers::onn::QueriesPerSample(setup_.model) *
                                        static_cast<int>(std::max<std::uint32_t>(1, averages))),
                     1, std::max(1, batch_size))) {}

ModelEvaluationRun::~ModelEvaluationRun() {
  if (holds_lease_) {
    spdlog::critical("bug: model evaluation {} destroyed holding the write lease", model_id());
  }
}

absl::Status ModelEvaluationRun::Begin() {
  absl::StatusOr<Deployment> deployed = DeploymentOf(controller_, store_, model_id());
  if (!deployed.ok()) return deployed.status();
  if (absl::Status s = controller_.TakeWriteLease(lease_holder()); !s.ok()) return s;
  holds_lease_ = true;
  deployed_phases_rad_ = deployed->phases_rad;
  // Programmed in situ: the receivers as measured then.
  setup_.placement.output_offset_mw = deployed->output_offset_mw;
  setup_.placement.output_gain_per_mw = deployed->output_gain_per_mw;
  oracle_ = std::make_unique<ControllerOracle>(controller_, averages_);
  spdlog::info("model {}: evaluating on the chip, {} test samples", model_id(), setup_.test.size());
  return absl::OkStatus();
}

absl::StatusOr<photonic::v1::EvaluateProgress> ModelEvaluationRun::Step() {
  if (!SamePhases(controller_.GetPhases().phases_rad, deployed_phases_rad_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the chip's phases changed during the evaluation of model ", model_id()));
  }
  const trainers::Dataset& test = setup_.test;
  const int n = std::min(batch_size_, test.size() - done_samples_);
  trainers::Dataset batch;
  batch.classes = test.classes;
  batch.features = test.features.middleRows(done_samples_, n);
  batch.labels.assign(test.labels.begin() + done_samples_, test.labels.begin() + done_samples_ + n);
  absl::StatusOr<trainers::onn::ChipEvaluation> measured =
      trainers::onn::ChipAccuracy(setup_.model, setup_.placement, *oracle_, batch, {}, n);
  if (!measured.ok()) return measured.status();
  correct_ += static_cast<int>(std::lround(measured->accuracy * measured->samples));
  for (int i = done_samples_; i < done_samples_ + n; ++i) {
    in_silico_correct_ += setup_.in_silico_correct[i];
  }
  done_samples_ += n;

  photonic::v1::EvaluateProgress progress;
  progress.set_done_samples(static_cast<std::uint32_t>(done_samples_));
  progress.set_total_samples(static_cast<std::uint32_t>(test.size()));
  progress.set_accuracy_so_far(static_cast<double>(correct_) / done_samples_);
  progress.set_queries(oracle_->cost().queries);
  progress.set_in_silico_accuracy(static_cast<double>(in_silico_correct_) / done_samples_);
  if (done()) {
    progress.set_done(true);
    progress.set_accuracy(progress.accuracy_so_far());
  }
  return progress;
}

void ModelEvaluationRun::End() {
  if (ended_) return;
  ended_ = true;
  if (holds_lease_) controller_.ReleaseWriteLease(lease_holder());
  holds_lease_ = false;
  if (oracle_ == nullptr) return;  // Begin refused: nothing ran
  if (!done() || done_samples_ == 0) {
    spdlog::info("model {}: evaluation stopped after {} of {} samples", model_id(), done_samples_,
                 setup_.test.size());
    return;
  }
  const double accuracy = static_cast<double>(correct_) / done_samples_;
  spdlog::info("model {}: chip accuracy {:.4f} on {} samples ({} in silico)", model_id(), accuracy,
               done_samples_, static_cast<double>(in_silico_correct_) / done_samples_);
  if (absl::Status s = store_.SetChipAccuracy(model_id(), accuracy); !s.ok()) {
    spdlog::error("model {}: chip accuracy not recorded: {}", model_id(), s.ToString());
  }
}

}  // namespace phc::daemon
