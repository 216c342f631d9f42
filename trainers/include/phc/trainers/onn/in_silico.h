// Training a model in silico: minibatch backpropagation with Adam on the
// ideal model (or its digital twin), optionally with Gaussian phase noise
// injected in every forward pass, reporting progress after every epoch and
// stopping early when asked.
#pragma once

#include <Eigen/Core>
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

// One minibatch's loss; replaces model.Gradients() with its gradient and,
// when `logits` is given, stores the logits there. `rows` are the
// minibatch's indices in the training set (for data kept beside it, such as
// a teacher's inputs).
using MinibatchLoss =
    std::function<double(Model& model, const Eigen::MatrixXd& features, std::span<const int> labels,
                         std::span<const int> rows, Eigen::MatrixXd* logits)>;

struct InSilicoOptions {
  int epochs = 10;
  int batch_size = 32;
  double learning_rate = 2e-3;  // Adam; decayed by a cosine over the run
  double phase_noise_std_rad = 0.0;
  std::uint64_t seed = 1;  // shuffling and noise
  // Train only the layers from this one on; the data are this layer's
  // inputs (e.g. a fabricated frontend's measured outputs). 0: the whole model.
  std::size_t first_layer = 0;
  // Empty: softmax cross-entropy (Model::LossAndGradients from first_layer).
  MinibatchLoss loss = {};
};

struct EpochReport {
  int epoch = 0;  // 1-based
  int epochs = 0;
  double train_loss = 0.0;      // mean over the epoch's minibatches
  double train_accuracy = 0.0;  // of the minibatches as they were trained
  double test_accuracy = 0.0;
  double seconds = 0.0;  // wall time of the epoch's training
  std::int64_t samples = 0;
};

struct InSilicoResult {
  std::vector<EpochReport> epochs;
  double test_accuracy = 0.0;  // not measured (0) when cancelled
  bool cancelled = false;
};

using EpochCallback = std::function<void(const EpochReport&)>;

// INVALID_ARGUMENT naming the option and its range.
absl::Status ValidateInSilicoOptions(const InSilicoOptions& options);

// INVALID_ARGUMENT for options out of range or data that do not fit the
// model. `cancel`, when set, stops the run at the next minibatch.
absl::StatusOr<InSilicoResult> TrainInSilico(Model& model, const Dataset& train,
                                             const Dataset& test, const InSilicoOptions& options,
                                             const EpochCallback& on_epoch = {},
                                             const std::atomic<bool>* cancel = nullptr);

// Test accuracy in batches of `batch_size` (no noise); `data` are the
// inputs of layer first_layer.
double EvaluateAccuracy(Model& model, const Dataset& data, int batch_size = 256,
                        std::size_t first_layer = 0);

}  // namespace phc::trainers::onn
