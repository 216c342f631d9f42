#include "phc/trainers/diff/ntkd_run.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/onn_model.h"

namespace phc::trainers::diff {

absl::Status ValidateNtkdConfig(const NtkdConfig& c) {
  if (c.modes < 2 || c.blocks < 1 || c.blocks > 16 || c.hidden < 1 || c.classes < 2) {
    return absl::InvalidArgumentError(
        "widths: the mesh size once per optical block, then the backend's hidden units, then "
        "the classes");
  }
  if (!(c.ntk_weight >= 0.0 && c.ntk_weight <= 1e4)) {
    return absl::InvalidArgumentError("algorithm.ntk_weight must be in [0, 1e4]");
  }
  if (!(c.finetune_learning_rate > 0.0 && c.finetune_learning_rate < 1.0)) {
    return absl::InvalidArgumentError("algorithm.learning_rate must be in (0, 1)");
  }
  if (c.teacher_epochs < 0 || c.teacher_epochs > 1000 || c.student_epochs < 0 ||
      c.student_epochs > 1000 || c.batch_size < 2) {
    return absl::InvalidArgumentError(
        "teacher_epochs and pretrain_epochs in [0, 1000], batch_size >= 2");
  }
  return absl::OkStatus();
}

NtkdRun::NtkdRun(const NtkdConfig& config, int teacher_inputs)
    : config_(config),
      student_(MakeHybridStudent(config.modes, config.blocks, config.hidden, config.classes,
                                 config.seed)),
      teacher_(MakeTeacher(teacher_inputs, config.teacher_hidden, config.classes, config.seed)) {}

absl::StatusOr<std::unique_ptr<NtkdRun>> NtkdRun::Create(
    const NtkdConfig& config, const Dataset& student_train, const Dataset& student_test,
    const Dataset& teacher_train, const Dataset& teacher_test, BlockMeasurer& chip,
    const RunCheckpoint* resume_from) {
  if (absl::Status s = ValidateNtkdConfig(config); !s.ok()) return s;
  if (student_train.feature_count() != config.modes ||
      teacher_train.labels != student_train.labels || teacher_test.labels != student_test.labels) {
    return absl::InvalidArgumentError(
        absl::StrCat("the student needs ", config.modes,
                     " features per sample and the teacher the same samples"));
  }
  std::unique_ptr<NtkdRun> run(new NtkdRun(config, teacher_train.feature_count()));
  Network& front = run->student_.frontend;
  Network& back = run->student_.backend;
  run->tune_ = std::make_unique<AdamGroup>(
      back, [](const Layer&) { return true; }, config.finetune_learning_rate);
  if (resume_from != nullptr) {
    // The whole checkpoint is checked before the chip is used.
    if (absl::Status s = run->SetParameters(resume_from->params); !s.ok()) return s;
    if (absl::Status s = run->SetOptimizerState(resume_from->optimizer_state); !s.ok()) return s;
  } else {
    TrainInSilico(
        run->teacher_, teacher_train, teacher_test,
        {.epochs = config.teacher_epochs, .batch = 64, .learning_rate = 1e-3, .seed = config.seed});
    TrainHybrid(run->student_, &run->teacher_, student_train.features, teacher_train.features,
                student_train.labels, config.student_epochs, config.student_learning_rate,
                config.ntk_weight, true, config.seed);
  }
  run->teacher_accuracy_ = ModelAccuracy(run->teacher_, teacher_test);
  run->student_accuracy_ =
      HybridAccuracy(run->student_, student_test.features, student_test.labels, nullptr);

  // The fabricated frontend, measured once (it is frozen from here on).
  const int tune = std::max(config.batch_size,
                            static_cast<int>(config.finetune_fraction * student_train.size()));
  const int n = std::min(tune, student_train.size());
  absl::StatusOr<Eigen::MatrixXd> measured =
      front.ForwardMeasured(student_train.features.topRows(n), chip);
  if (!measured.ok()) return measured.status();
  absl::StatusOr<Eigen::MatrixXd> test_measured =
      front.ForwardMeasured(student_test.features, chip);
  if (!test_measured.ok()) return test_measured.status();
  run->tune_features_ = *std::move(measured);
  run->tune_teacher_inputs_ = teacher_train.features.topRows(n);
  run->tune_labels_.assign(student_train.labels.begin(), student_train.labels.begin() + n);
  run->test_features_ = *std::move(test_measured);
  run->test_labels_ = student_test.labels;
  run->fabricated_accuracy_ = run->Evaluate();
  return run;
}

double NtkdRun::Evaluate() {
  return Accuracy(student_.backend.Forward(test_features_), test_labels_);
}

absl::StatusOr<TrainingProgress> NtkdRun::Step() {
  if (done()) return progress_;
  const int n = static_cast<int>(tune_labels_.size());
  const int batch = std::min(config_.batch_size, n);
  // Deterministic minibatches: a permutation per epoch from the seed.
  const std::int64_t per_epoch = n / batch;
  const std::int64_t epoch = progress_.step / per_epoch;
  const int start = static_cast<int>(progress_.step % per_epoch) * batch;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(config_.seed * 7919ULL + static_cast<std::uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  Eigen::MatrixXd x(batch, tune_features_.cols()), t(batch, tune_teacher_inputs_.cols());
  std::vector<int> y;
  for (int i = 0; i < batch; ++i) {
    x.row(i) = tune_features_.row(order[start + i]);
    t.row(i) = tune_teacher_inputs_.row(order[start + i]);
    y.push_back(tune_labels_[order[start + i]]);
  }
  Eigen::MatrixXd kernel;
  if (config_.ntk_weight > 0.0) kernel = ReadoutKernel(teacher_, t);
  Network measured_frontend;  // the measured outputs stand for the frontend
  absl::StatusOr<DistillationLoss> loss = DistillationGradients(
      measured_frontend, student_.backend, x, y, kernel, 1.0, config_.ntk_weight, nullptr, false);
  if (!loss.ok()) return loss.status();
  tune_->Step();
  ++progress_.step;
  progress_.loss = loss->cross_entropy + config_.ntk_weight * loss->kernel;
  progress_.loss_evaluations = progress_.step;
  if (progress_.step % std::max(1, config_.eval_every) == 0 ||
      progress_.step >= config_.max_steps) {
    progress_.test_accuracy = Evaluate();
    if (config_.target_accuracy > 0.0 && progress_.test_accuracy >= config_.target_accuracy) {
      stop_reason_ = StopReason::kTargetAccuracy;
    }
  }
  if (progress_.step >= config_.max_steps && stop_reason_ == StopReason::kNone) {
    stop_reason_ = StopReason::kMaxSteps;
  }
  return progress_;
}

std::vector<double> NtkdRun::SaveParameters() const {
  std::vector<double> out;
  for (const Network* net : {&student_.frontend, &student_.backend, &teacher_}) {
    const Eigen::VectorXd p = net->Parameters();
    out.insert(out.end(), p.data(), p.data() + p.size());
  }
  return out;
}

absl::Status NtkdRun::SetParameters(std::span<const double> saved) {
  const int sizes[] = {student_.frontend.parameter_count(), student_.backend.parameter_count(),
                       teacher_.parameter_count()};
  if (static_cast<int>(saved.size()) != sizes[0] + sizes[1] + sizes[2]) {
    return absl::DataLossError("the checkpoint does not fit the networks");
  }
  int at = 0;
  for (auto [net, size] :
       {std::pair{&student_.frontend, sizes[0]}, std::pair{&student_.backend, sizes[1]},
        std::pair{&teacher_, sizes[2]}}) {
    net->SetParameters(Eigen::Map<const Eigen::VectorXd>(saved.data() + at, size));
    at += size;
  }
  return absl::OkStatus();
}

absl::Status NtkdRun::SetOptimizerState(std::span<const double> state) {
  if (absl::Status s = tune_->adam().RestoreState(state); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  return absl::OkStatus();
}

RunCheckpoint NtkdRun::Save() const {
  return ParameterCheckpoint(progress_, SaveParameters(), SaveOptimizerState());
}

absl::Status NtkdRun::Restore(const RunCheckpoint& checkpoint) {
  if (absl::Status s = SetParameters(checkpoint.params); !s.ok()) return s;
  if (absl::Status s = SetOptimizerState(checkpoint.optimizer_state); !s.ok()) return s;
  progress_ = checkpoint.progress;
  if (progress_.step >= config_.max_steps) stop_reason_ = StopReason::kMaxSteps;
  return absl::OkStatus();
}

}  // namespace phc::trainers::diff
