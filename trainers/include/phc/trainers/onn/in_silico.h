// Training a model in silico: minibatch backpropagation with Adam on the
// ideal model (or its digital twin), optionally with Gaussian phase noise
// injected in every forward pass, reporting progress after every epoch and
// stopping early when asked.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

struct InSilicoOptions {
  int epochs = 10;
  int batch_size = 32;
  double learning_rate = 2e-3;  // Adam; decayed by a cosine over the run
  double phase_noise_std_rad = 0.0;
  std::uint64_t seed = 1;  // shuffling and noise
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

// Test accuracy in batches of `batch_size` (no noise).
double EvaluateAccuracy(Model& model, const Dataset& data, int batch_size = 256);

}  // namespace phc::trainers::onn
