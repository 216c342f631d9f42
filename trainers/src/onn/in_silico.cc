#include "phc/trainers/onn/in_silico.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/diff/network.h"

namespace phc::trainers::onn {
namespace {}  // namespace

absl::Status ValidateInSilicoOptions(const InSilicoOptions& options) {
  if (options.epochs < 1 || options.epochs > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs must be in [1, 10000], got ", options.epochs));
  }
  if (options.batch_size < 1 || options.batch_size > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be in [1, 65536], got ", options.batch_size));
  }
  if (!(options.learning_rate > 0.0 && options.learning_rate <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be in (0, 1], got ", options.learning_rate));
  }
  if (!(options.phase_noise_std_rad >= 0.0 && options.phase_noise_std_rad <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("phase_noise_std_rad must be in [0, 1], got ", options.phase_noise_std_rad));
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckData(const Model& model, const Dataset& data, std::size_t first_layer,
                       const char* which) {
  if (data.size() == 0) return absl::InvalidArgumentError(absl::StrCat(which, " set is empty"));
  if (data.feature_count() != model.input_width(first_layer)) {
    return absl::InvalidArgumentError(
        absl::StrCat(which, " set has ", data.feature_count(), " features; the model",
                     first_layer == 0 ? "" : absl::StrCat("'s layer ", first_layer), " reads ",
                     model.input_width(first_layer)));
  }
  return absl::OkStatus();
}

Eigen::MatrixXd Rows(const Eigen::MatrixXd& all, std::span<const int> rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), all.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(i) = all.row(rows[i]);
  return out;
}

}  // namespace

double EvaluateAccuracy(Model& model, const Dataset& data, int batch_size,
                        std::size_t first_layer) {
  if (data.size() == 0) return 0.0;
  batch_size = std::max(1, batch_size);
  int correct = 0;
  for (int start = 0; start < data.size(); start += batch_size) {
    const int n = std::min(batch_size, data.size() - start);
    const Eigen::MatrixXd logits = model.Forward(data.features.middleRows(start, n), first_layer);
    const std::span<const int> labels(data.labels.data() + start, n);
    correct += static_cast<int>(std::lround(ArgmaxAccuracy(logits, labels) * n));
  }
  return static_cast<double>(correct) / data.size();
}

absl::StatusOr<InSilicoResult> TrainInSilico(Model& model, const Dataset& train,
                                             const Dataset& test, const InSilicoOptions& options,
                                             const EpochCallback& on_epoch,
                                             const std::atomic<bool>* cancel) {
  if (absl::Status status = ValidateInSilicoOptions(options); !status.ok()) return status;
  if (options.loss && options.phase_noise_std_rad > 0.0) {
    return absl::InvalidArgumentError(
        "phase_noise_std_rad: a custom loss runs on the noise-free model (its extra forward "
        "passes would each draw other noise)");
  }
  if (options.first_layer >= model.layers().size()) {
    return absl::InvalidArgumentError(absl::StrCat("first_layer ", options.first_layer,
                                                   " is past the model's ", model.layers().size(),
                                                   " layers"));
  }
  const std::size_t first_layer = options.first_layer;
  if (absl::Status status = CheckData(model, train, first_layer, "training"); !status.ok())
    return status;
  if (absl::Status status = CheckData(model, test, first_layer, "test"); !status.ok())
    return status;

  std::mt19937_64 rng(options.seed);
  std::mt19937_64 noise_rng(options.seed ^ 0x5bd1e995ULL);
  Eigen::VectorXd parameters = model.Parameters();
  diff::Adam adam(static_cast<int>(parameters.size()), options.learning_rate);
  std::vector<int> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  const int batches_per_epoch = (train.size() + options.batch_size - 1) / options.batch_size;
  const double total_steps = static_cast<double>(batches_per_epoch) * options.epochs;
  int step = 0;
  InSilicoResult result;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    EpochReport report{.epoch = epoch, .epochs = options.epochs};
    double correct = 0.0;
    for (int b = 0; b < batches_per_epoch; ++b) {
      if (cancel != nullptr && cancel->load()) {
        result.cancelled = true;  // at once: no test pass for a result nobody keeps
        model.SetPhaseNoise(0.0, nullptr);
        return result;
      }
      const int first = b * options.batch_size;
      const int n = std::min(options.batch_size, train.size() - first);
      const std::span<const int> rows(order.data() + first, n);
      std::vector<int> labels(n);
      for (int i = 0; i < n; ++i) labels[i] = train.labels[rows[i]];
      model.SetPhaseNoise(options.phase_noise_std_rad, &noise_rng);
      const Eigen::MatrixXd features = Rows(train.features, rows);
      Eigen::MatrixXd logits;
      const double loss = options.loss
                              ? options.loss(model, features, labels, rows, &logits)
                              : model.LossAndGradients(features, labels, &logits, first_layer);
      report.train_loss += loss * n;
      correct += ArgmaxAccuracy(logits, labels) * n;
      adam.set_learning_rate(options.learning_rate * 0.5 *
                             (1.0 + std::cos(std::numbers::pi * step / total_steps)));
      adam.Step(parameters, model.Gradients());
      model.SetParameters(parameters);
      report.samples += n;
      ++step;
    }
    model.SetPhaseNoise(0.0, nullptr);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.train_loss /= static_cast<double>(report.samples);
    report.train_accuracy = correct / static_cast<double>(report.samples);
    report.test_accuracy = EvaluateAccuracy(model, test, 256, first_layer);
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(report);
  }
  result.test_accuracy = result.epochs.back().test_accuracy;
  return result;
}

}  // namespace phc::trainers::onn
