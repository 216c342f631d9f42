// ntkd with from_model: post-fabrication fine-tuning of a deployed hybrid
// model (Xiang et al. 2025). Its frontend (every layer up to the last
// optical one) is measured on the chip once, on the session's training and
// test images; each step then fine-tunes the digital backend alone on
// those measurements, with cross-entropy plus ntk_weight times the
// distance between the backend's tangent kernel and the teacher model's
// (onn/tangent_kernel.h). The chip's phases are not changed. A resumed
// session measures the frontend again, so the model must still be the
// deployed one (its checkpoint holds the backend's parameters and Adam's
// state, not the measurements); tangents come from (seed, step).
#include <algorithm>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "phc/trainers/diff/network.h"
#include "phc/trainers/onn/tangent_kernel.h"
#include "phc/trainers/step_random.h"
#include "session_runs.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

constexpr double kDefaultLearningRate = 1e-3;
constexpr int kDefaultTangents = 4;

onn::NtkdOptions NtkdOptionsFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  return {
      .alpha = 1.0,
      .beta = a.has_ntk_weight() ? a.ntk_weight() : 1.0,
      .kernel = {.tangents = a.samples_per_step() > 0 ? a.samples_per_step() : kDefaultTangents}};
}

double LearningRate(const SessionConfig& c) {
  return c.algorithm().learning_rate() > 0.0 ? c.algorithm().learning_rate() : kDefaultLearningRate;
}

// The first layer after the model's last optical layer: the backend.
absl::StatusOr<std::size_t> BackendStart(const onn::Model& model) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    if (onn::OpticalMap(*model.layers()[i]) != nullptr) start = i + 1;
  }
  if (start == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model.spec().name(), " has no optical layer to measure"));
  }
  if (start >= model.layers().size() || model.FirstParameter(start) == model.parameter_count()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model.spec().name(),
                     " has no digital backend to fine-tune after its last optical layer"));
  }
  return start;
}

// The measured frontend outputs beside the teacher's inputs, one sample
// per row ([measured | teacher]), so that a minibatch carries both.
struct MeasuredSplit {
  Dataset train;
  Dataset test;
  Eigen::Index measured_width = 0;
};

class NtkdModelRun final : public Run {
 public:
  NtkdModelRun(onn::Model student, std::optional<onn::Model> teacher, std::size_t backend,
               MeasuredSplit measured, const SessionConfig& config)
      : student_(std::move(student)),
        teacher_(std::move(teacher)),
        backend_(backend),
        measured_(std::move(measured)),
        config_(config),
        options_(NtkdOptionsFrom(config)),
        minibatches_(measured_.train, config.batch_size(), config.seed()),
        adam_(student_.parameter_count(), LearningRate(config)) {}

  absl::StatusOr<TrainingProgress> Step() override {
    if (done()) return progress_;
    const Dataset batch = minibatches_.At(progress_.step);
    // Tangents from (seed, step): a resumed run draws what an
    // uninterrupted one would.
    std::mt19937_64 rng = StepRandom(config_.seed() ^ 0x6e746b64ULL, progress_.step);
    const Eigen::MatrixXd x = batch.features.leftCols(measured_.measured_width);
    double loss = 0.0;
    if (teacher_ && options_.beta > 0.0) {
      const Eigen::MatrixXd teacher_x =
          batch.features.rightCols(batch.features.cols() - measured_.measured_width);
      const Eigen::MatrixXd teacher_kernel =
          onn::EstimateTangentKernel(*teacher_, teacher_x, options_.kernel, rng);
      loss = onn::NtkdLossAndGradients(student_, x, batch.labels, teacher_kernel, options_, rng,
                                       backend_)
                 .total;
    } else {
      loss = student_.LossAndGradients(x, batch.labels, nullptr, backend_);
    }
    Eigen::VectorXd parameters = student_.Parameters();
    adam_.Step(parameters, student_.Gradients());  // the frontend's gradients are zero
    student_.SetParameters(parameters);
    ++progress_.step;
    progress_.loss = loss;
    progress_.loss_evaluations += 1;
    if (absl::Status s = AfterModelStep(
            config_, [this]() -> absl::StatusOr<double> { return Evaluate(); }, progress_,
            stop_reason_);
        !s.ok()) {
      return s;
    }
    return progress_;
  }
  const TrainingProgress& progress() const override { return progress_; }
  StopReason stop_reason() const override { return stop_reason_; }

  RunCheckpoint Save() const override {
    const Eigen::VectorXd parameters = student_.Parameters();
    return ParameterCheckpoint(
        progress_, {parameters.data(), parameters.data() + parameters.size()}, adam_.SaveState());
  }
  absl::Status Restore(const RunCheckpoint& checkpoint) override {
    return RestoreModelRun(
        checkpoint, "ntkd", config_, student_,
        [this](std::span<const double> state) { return adam_.RestoreState(state); }, progress_,
        stop_reason_);
  }

  // The fabricated model's accuracy: the measured frontend, the backend now.
  double Evaluate() {
    const Dataset test{measured_.test.features.leftCols(measured_.measured_width),
                       measured_.test.labels, measured_.test.classes};
    return onn::EvaluateAccuracy(student_, test, 256, backend_);
  }

 private:
  onn::Model student_;
  std::optional<onn::Model> teacher_;
  std::size_t backend_;
  MeasuredSplit measured_;
  SessionConfig config_;
  onn::NtkdOptions options_;
  EpochMinibatches minibatches_;
  diff::Adam adam_;
  TrainingProgress progress_;
  StopReason stop_reason_ = StopReason::kNone;
};

Dataset Beside(const Eigen::MatrixXd& measured, const Dataset& teacher_view) {
  Dataset out = teacher_view;
  out.features.resize(measured.rows(), measured.cols() + teacher_view.features.cols());
  out.features << measured, teacher_view.features;
  return out;
}

}  // namespace

absl::Status ValidateNtkdFromModel(const SessionConfig& c) {
  if (c.widths_size() > 0 || c.first_circuit() != 0) {
    return absl::InvalidArgumentError(
        "widths, first_circuit: an ntkd session of a model runs on the model's cores; leave them "
        "unset");
  }
  if (c.batch_size() < 1) return absl::InvalidArgumentError("batch_size must be >= 1");
  if (c.power_budget_mw() > 0.0) {
    return absl::InvalidArgumentError(
        "power_budget_mw: an ntkd session of a model writes no heater (it fine-tunes the digital "
        "backend); leave it unset");
  }
  if (!(c.algorithm().learning_rate() >= 0.0 && c.algorithm().learning_rate() <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be in [0, 1], got ", c.algorithm().learning_rate()));
  }
  const onn::NtkdOptions options = NtkdOptionsFrom(c);
  if (absl::Status s = onn::ValidateNtkdOptions(options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm (ntk_weight, samples_per_step: tangents): ", s.message()));
  }
  if (options.beta > 0.0 && c.algorithm().teacher_model().empty()) {
    return absl::InvalidArgumentError(
        "teacher_model: ntk_weight > 0 aligns the backend with a teacher; name a stored model "
        "(or set ntk_weight 0 for cross-entropy alone)");
  }
  if (options.beta == 0.0 && !c.algorithm().teacher_model().empty()) {
    return absl::InvalidArgumentError(
        "teacher_model: unused with ntk_weight 0 (cross-entropy alone); leave it unset");
  }
  if (c.algorithm().teacher_model() == c.from_model()) {
    return absl::InvalidArgumentError("teacher_model: the student cannot be its own teacher");
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> CreateNtkdFromModel(const SessionConfig& c, RunChip& chip,
                                               const RunOptions& options) {
  RunResources resources;
  // The frontend is measured again on resume: the model must be the
  // deployed one then too (ntkd never writes the heaters).
  absl::StatusOr<ChipModel> placed =
      LoadFromModel(c, chip, options, resources, /*deployed_on_resume=*/true);
  if (!placed.ok()) return placed.status();
  absl::StatusOr<std::size_t> backend = BackendStart(placed->model);
  if (!backend.ok()) return backend.status();
  const TrainTestSplit& data = *resources.data;
  std::optional<onn::Model> teacher;
  // No teacher: nothing beside the measurements.
  Dataset teacher_train{Eigen::MatrixXd(data.train.size(), 0), data.train.labels,
                        data.train.classes};
  Dataset teacher_test{Eigen::MatrixXd(data.test.size(), 0), data.test.labels, data.test.classes};
  if (!c.algorithm().teacher_model().empty()) {
    absl::StatusOr<onn::Model> stored = chip.stored_model(c.algorithm().teacher_model());
    if (!stored.ok()) return stored.status();
    const photonic::v1::ModelSpec& s = stored->spec();
    const photonic::v1::ModelSpec& student = placed->model.spec();
    if (s.input().dataset() != student.input().dataset() ||
        onn::ClassCount(s) != onn::ClassCount(student)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "teacher_model ", c.algorithm().teacher_model(), " reads ", s.input().dataset(), " (",
          onn::ClassCount(s), " classes); the student reads ", student.input().dataset(), " (",
          onn::ClassCount(student), " classes)"));
    }
    absl::StatusOr<onn::ModelData> seen =
        onn::LoadModelData(s, options.fashion_mnist_dir, c.train_samples(), c.test_samples());
    if (!seen.ok()) return seen.status();
    if (seen->train.labels != data.train.labels || seen->test.labels != data.test.labels) {
      return absl::InvalidArgumentError(
          absl::StrCat("teacher_model ", c.algorithm().teacher_model(),
                       " reads other samples than the student (another dataset or class count)"));
    }
    teacher_train = std::move(seen->train);
    teacher_test = std::move(seen->test);
    teacher = *std::move(stored);
  }
  chip.StartAccounting();
  auto measure = [&](const Dataset& images) -> absl::StatusOr<Eigen::MatrixXd> {
    return onn::ChipForwardTo(placed->model, placed->placement, chip.oracle(), images.features,
                              *backend);
  };
  absl::StatusOr<Eigen::MatrixXd> train = measure(data.train);
  if (!train.ok()) return train.status();
  absl::StatusOr<Eigen::MatrixXd> test = measure(data.test);
  if (!test.ok()) return test.status();
  Note(options, absl::StrCat("frontend (layers 0-", *backend - 1, ") measured on the chip: ",
                             data.train.size(), " training and ", data.test.size(),
                             " test images, ", chip.cost().queries, " chip queries"));
  MeasuredSplit measured{.train = Beside(*train, teacher_train),
                         .test = Beside(*test, teacher_test),
                         .measured_width = train->cols()};
  const int trained = placed->model.parameter_count() - placed->model.FirstParameter(*backend);
  auto run = std::make_unique<NtkdModelRun>(std::move(placed->model), std::move(teacher), *backend,
                                            std::move(measured), c);
  NtkdModelRun* ntkd = run.get();
  return Started(std::move(resources), std::move(run), &chip, trained, options,
                 [ntkd, &options]() -> absl::StatusOr<double> {
                   const double fabricated = ntkd->Evaluate();
                   Note(options, absl::StrFormat("fabricated accuracy %.4f", fabricated));
                   return fabricated;
                 });
}

}  // namespace phc::trainers::runs
