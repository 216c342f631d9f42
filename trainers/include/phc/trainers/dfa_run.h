// One DFA training run (or its backpropagation baseline): a digital network,
// a dataset, a feedback projector and the budgets. Step() does one SGD step
// on a minibatch that depends only on (seed, step), so a run restored from a
// checkpoint repeats exactly what an uninterrupted one would have done.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/dense_network.h"
#include "phc/trainers/feedback_projector.h"
#include "phc/trainers/run.h"
#include "phc/trainers/weight_bank.h"

namespace phc::trainers {

struct DfaConfig {
  std::vector<int> widths;           // inputs, hidden..., classes
  std::string feedback = "digital";  // digital | noise_model | microring | backprop
  double learning_rate = 0.01;
  double momentum = 0.9;
  double noise_mean = 0.03;  // noise_model: max|e| N(mean, std) per product
  double noise_std = 0.618;
  double weight_scale = 0.5;  // microring: B programmed as scale * B
  int batch_size = 64;
  std::int64_t max_steps = 1000;
  double target_accuracy = 0.0;
  int eval_every = 100;
  int eval_samples = 0;  // 0: the whole test set
  std::uint64_t seed = 1;
};

// INVALID_ARGUMENT naming the field.
absl::Status ValidateDfaConfig(const DfaConfig& config);

// Fashion-MNIST images (from FashionMnistDir(fashion_mnist_dir)) as 784
// pixel features in [0, 1] (first `classes` classes), or synthetic
// clusters; NOT_FOUND naming the directory when Fashion-MNIST is not there.
absl::StatusOr<TrainTestSplit> LoadDfaData(const std::string& dataset, int features, int classes,
                                           int train_limit, int test_limit, std::uint64_t seed,
                                           const std::filesystem::path& fashion_mnist_dir = {});

class DfaRun final : public Run {
 public:
  // bank: required for feedback "microring" (it is calibrated and B is
  // programmed here; progress reports the calibration), ignored otherwise.
  static absl::StatusOr<std::unique_ptr<DfaRun>> Create(const DfaConfig& config,
                                                        const Dataset& train, const Dataset& test,
                                                        WeightBankDevice* bank,
                                                        const BankProgress& progress = {});

  absl::StatusOr<TrainingProgress> Step() override;
  absl::StatusOr<double> Evaluate(const Dataset& data, int samples) const;

  StopReason stop_reason() const override { return stop_reason_; }
  const TrainingProgress& progress() const override { return progress_; }
  int parameter_count() const;
  // For the microring projector: how well the bank holds B.
  const ProgramReport& bank_report() const { return bank_report_; }

  // Weights and biases layer by layer, then the momentum buffers.
  std::vector<float> SaveState() const;
  // Checkpoints: SaveState() as the network state. Restore: DATA_LOSS when
  // it does not fit the network.
  RunCheckpoint Save() const override;
  absl::Status Restore(const RunCheckpoint& checkpoint) override;
  // Restore's check without a run (nor data, nor a bank): DATA_LOSS when
  // checkpoint.network_state does not fit a network of config.widths.
  static absl::Status CheckCheckpoint(const DfaConfig& config, const RunCheckpoint& checkpoint);

 private:
  DfaRun(const DfaConfig& config, const Dataset& train, const Dataset& test);

  DfaConfig config_;
  const Dataset& train_;
  const Dataset& test_;
  float feature_mean_ = 0.0f;
  float feature_std_ = 1.0f;
  DenseNetwork net_;
  MomentumSgd sgd_;
  std::unique_ptr<FeedbackProjector> projector_;  // null: backpropagation
  ProgramReport bank_report_;
  TrainingProgress progress_;
  StopReason stop_reason_ = StopReason::kNone;
};

}  // namespace phc::trainers
