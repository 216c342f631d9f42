#include "phc/trainers/dfa_run.h"

#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "phc/trainers/step_random.h"

namespace phc::trainers {

namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", why));
}

// Features as the network takes them: one sample per column, standardised
// with the training set's mean and deviation.
Eigen::MatrixXf Columns(const Dataset& data, const std::vector<int>& rows, float mean, float std) {
  Eigen::MatrixXf x(data.feature_count(), static_cast<Eigen::Index>(rows.size()));
  for (std::size_t s = 0; s < rows.size(); ++s) {
    x.col(static_cast<Eigen::Index>(s)) =
        ((data.features.row(rows[s]).transpose().cast<float>().array() - mean) / std).matrix();
  }
  return x;
}

std::vector<int> HiddenWidths(const std::vector<int>& widths) {
  return {widths.begin() + 1, widths.end() - 1};
}

// The weights and biases of a DenseNetwork of these widths.
std::size_t ParameterCount(const std::vector<int>& widths) {
  std::size_t count = 0;
  for (std::size_t l = 1; l < widths.size(); ++l) {
    count += static_cast<std::size_t>(widths[l]) * (static_cast<std::size_t>(widths[l - 1]) + 1);
  }
  return count;
}

}  // namespace

absl::Status ValidateDfaConfig(const DfaConfig& c) {
  if (c.widths.size() < 3) return Bad("widths", "needs inputs, at least one hidden layer, classes");
  for (int w : c.widths) {
    if (w < 1 || w > 4096) return Bad("widths", absl::StrCat("entry ", w, " is not in [1, 4096]"));
  }
  if (c.widths.back() < 2 || c.widths.back() > 10) {
    return Bad("widths", absl::StrCat("classes = ", c.widths.back(), " is not in [2, 10]"));
  }
  if (c.feedback != "digital" && c.feedback != "noise_model" && c.feedback != "microring" &&
      c.feedback != "backprop") {
    return Bad("algorithm.feedback", absl::StrCat("= \"", c.feedback,
                                                  "\" is not digital, noise_model, microring or "
                                                  "backprop"));
  }
  if (!(c.learning_rate > 0.0 && c.learning_rate <= 10.0)) {
    return Bad("algorithm.learning_rate",
               absl::StrCat("= ", c.learning_rate, " is not in (0, 10]"));
  }
  if (!(c.momentum >= 0.0 && c.momentum < 1.0)) {
    return Bad("algorithm.momentum", absl::StrCat("= ", c.momentum, " is not in [0, 1)"));
  }
  if (!(std::isfinite(c.noise_mean) && std::abs(c.noise_mean) <= 10.0)) {
    return Bad("algorithm.feedback_noise_mean", "must be finite, |mean| <= 10");
  }
  if (!(c.noise_std > 0.0 && c.noise_std <= 10.0)) {
    return Bad("algorithm.feedback_noise_std",
               absl::StrCat("= ", c.noise_std, " is not in (0, 10]"));
  }
  if (c.batch_size < 1 || c.batch_size > 4096) return Bad("batch_size", "is not in [1, 4096]");
  return absl::OkStatus();
}

absl::StatusOr<TrainTestSplit> LoadDfaData(const std::string& dataset, int features, int classes,
                                           int train_limit, int test_limit, std::uint64_t seed,
                                           const std::filesystem::path& fashion_mnist_dir) {
  if (dataset == "synthetic") {
    return TrainTestSplit{MakeClusters(train_limit, features, classes, 0.15, seed),
                          MakeClusters(test_limit, features, classes, 0.15, seed, 1), "synthetic"};
  }
  if (dataset != "fashion-mnist") {
    return Bad("dataset", absl::StrCat("= \"", dataset, "\" is not fashion-mnist or synthetic"));
  }
  if (features != 28 * 28) {
    return Bad("widths", absl::StrCat("first entry is ", features,
                                      "; DFA on fashion-mnist takes the 784 pixels"));
  }
  const int scale = (10 + classes - 1) / classes;
  absl::StatusOr<FashionMnist> images =
      LoadFashionMnist(fashion_mnist_dir, train_limit * scale, test_limit * scale);
  if (!images.ok()) return images.status();
  auto to_dataset = [&](const ImageSet& images, int limit) {
    Dataset all{images.pixels / 255.0, images.labels, 10};
    Dataset d = FirstClasses(all, classes);
    const int n = std::min(limit, d.size());
    d.features.conservativeResize(n, Eigen::NoChange);
    d.labels.resize(n);
    return d;
  };
  return TrainTestSplit{to_dataset(images->train, train_limit),
                        to_dataset(images->test, test_limit), "fashion-mnist"};
}

DfaRun::DfaRun(const DfaConfig& config, const Dataset& train, const Dataset& test)
    : config_(config),
      train_(train),
      test_(test),
      net_(config.widths, config.seed),
      sgd_(net_, static_cast<float>(config.learning_rate), static_cast<float>(config.momentum)) {
  feature_mean_ = static_cast<float>(train.features.mean());
  const double variance = (train.features.array() - train.features.mean()).square().mean();
  feature_std_ = static_cast<float>(std::max(1e-6, std::sqrt(variance)));
}

absl::StatusOr<std::unique_ptr<DfaRun>> DfaRun::Create(const DfaConfig& config,
                                                       const Dataset& train, const Dataset& test,
                                                       WeightBankDevice* bank,
                                                       const BankProgress& progress) {
  if (absl::Status s = ValidateDfaConfig(config); !s.ok()) return s;
  if (train.feature_count() != config.widths.front() || train.size() < 1) {
    return Bad("widths", absl::StrCat("first entry is ", config.widths.front(), "; the data has ",
                                      train.feature_count(), " features"));
  }
  std::unique_ptr<DfaRun> run(new DfaRun(config, train, test));
  const int classes = config.widths.back();
  const std::vector<int> hidden = HiddenWidths(config.widths);
  std::vector<Eigen::MatrixXf> feedback = MakeFeedbackMatrices(hidden, classes, config.seed + 500);
  if (config.feedback == "digital") {
    run->projector_ = std::make_unique<DigitalProjector>(std::move(feedback));
  } else if (config.feedback == "noise_model") {
    run->projector_ = std::make_unique<GaussianNoiseProjector>(
        std::move(feedback), config.noise_mean, config.noise_std, config.seed);
  } else if (config.feedback == "microring") {
    int rows = 0;
    for (int w : hidden) rows += w;
    if (bank == nullptr || bank->channels() != classes || bank->rows() != rows) {
      return absl::FailedPreconditionError(absl::StrCat(
          "microring feedback needs a weight bank of ", classes, " channels x ", rows,
          " rows (classes x hidden units); the chip has ",
          bank ? absl::StrCat(bank->channels(), " x ", bank->rows()) : std::string("none")));
    }
    BankCalibrationOptions options;
    auto calibration = CalibrateWeightBank(*bank, options, progress);
    if (!calibration.ok()) return calibration.status();
    auto programmed = ProgramWeights(
        *bank, *calibration, MicroringProjector::BankTargets(feedback, config.weight_scale), 8, 8);
    if (!programmed.ok()) return programmed.status();
    run->bank_report_ = *std::move(programmed);
    run->projector_ = std::make_unique<MicroringProjector>(std::move(feedback), config.weight_scale,
                                                           *bank, *std::move(calibration));
  }
  return run;
}

absl::StatusOr<TrainingProgress> DfaRun::Step() {
  if (done()) return progress_;
  std::mt19937_64 rng = StepRandom(config_.seed, progress_.step);
  const std::vector<int> rows = SampleWithoutReplacement(train_.size(), config_.batch_size, rng);
  std::vector<int> labels;
  for (int r : rows) labels.push_back(train_.labels[r]);
  ForwardCache cache;
  net_.Forward(Columns(train_, rows, feature_mean_, feature_std_), cache);
  double loss = 0.0;
  const Eigen::MatrixXf e = OutputError(cache.logits(), labels, &loss);
  Gradients g;
  if (projector_ == nullptr) {
    g = BackpropGradients(net_, cache, e);
  } else {
    projector_->BeginStep(config_.seed, progress_.step);
    auto products = projector_->Project(e);
    if (!products.ok()) return products.status();
    g = DfaGradients(net_, cache, e, NormaliseFeedback(*std::move(products)));
  }
  sgd_.Step(net_, g);
  ++progress_.step;
  ++progress_.loss_evaluations;
  progress_.loss = loss;
  const bool last = progress_.step >= config_.max_steps;
  if (last || (config_.eval_every > 0 && progress_.step % config_.eval_every == 0)) {
    auto accuracy = Evaluate(test_, config_.eval_samples);
    if (!accuracy.ok()) return accuracy.status();
    progress_.test_accuracy = *accuracy;
    if (config_.target_accuracy > 0.0 && *accuracy >= config_.target_accuracy) {
      stop_reason_ = StopReason::kTargetAccuracy;
    }
  }
  if (last && stop_reason_ == StopReason::kNone) stop_reason_ = StopReason::kMaxSteps;
  return progress_;
}

absl::StatusOr<double> DfaRun::Evaluate(const Dataset& data, int samples) const {
  const int n = samples > 0 ? std::min(samples, data.size()) : data.size();
  std::vector<int> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  return Accuracy(net_, Columns(data, rows, feature_mean_, feature_std_),
                  std::span<const int>(data.labels.data(), n));
}

int DfaRun::parameter_count() const {
  int count = 0;
  for (const DenseLayer& l : net_.layers()) {
    count += static_cast<int>(l.weights.size() + l.bias.size());
  }
  return count;
}

std::vector<float> DfaRun::SaveState() const {
  std::vector<float> state;
  state.reserve(2 * static_cast<std::size_t>(parameter_count()));
  auto append = [&](const auto& m) { state.insert(state.end(), m.data(), m.data() + m.size()); };
  for (const DenseLayer& l : net_.layers()) {
    append(l.weights);
    append(l.bias);
  }
  const Gradients& v = sgd_.velocity();
  for (std::size_t l = 0; l < v.weights.size(); ++l) {
    append(v.weights[l]);
    append(v.bias[l]);
  }
  return state;
}

RunCheckpoint DfaRun::Save() const {
  RunCheckpoint checkpoint;
  checkpoint.progress = progress_;
  checkpoint.network_state = SaveState();
  return checkpoint;
}

absl::Status DfaRun::CheckCheckpoint(const DfaConfig& config, const RunCheckpoint& checkpoint) {
  const std::size_t needed = 2 * ParameterCount(config.widths);
  if (checkpoint.network_state.size() != needed) {
    return absl::DataLossError(absl::StrCat("the DFA checkpoint holds ",
                                            checkpoint.network_state.size(),
                                            " numbers; the network needs ", needed));
  }
  return absl::OkStatus();
}

absl::Status DfaRun::Restore(const RunCheckpoint& checkpoint) {
  if (absl::Status s = CheckCheckpoint(config_, checkpoint); !s.ok()) return s;
  const std::vector<float>& state = checkpoint.network_state;
  std::size_t at = 0;
  auto take = [&](auto& m) {
    std::copy(state.begin() + static_cast<std::ptrdiff_t>(at),
              state.begin() + static_cast<std::ptrdiff_t>(at + m.size()), m.data());
    at += static_cast<std::size_t>(m.size());
  };
  for (DenseLayer& l : net_.layers()) {
    take(l.weights);
    take(l.bias);
  }
  Gradients& v = sgd_.velocity();
  for (std::size_t l = 0; l < v.weights.size(); ++l) {
    take(v.weights[l]);
    take(v.bias[l]);
  }
  progress_ = checkpoint.progress;
  stop_reason_ = StopReason::kNone;
  return absl::OkStatus();
}

}  // namespace phc::trainers
