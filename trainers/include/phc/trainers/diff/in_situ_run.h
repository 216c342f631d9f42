// An in silico -> in situ run as a training session runs it: the ONN of
// optical blocks (the chip mesh, time-multiplexed, then detection) with a
// digital readout is pretrained in silico on the ideal model when the run
// is created, then adapted on the chip one minibatch per Step() by
// physics-aware training ("pat") or dual adaptive training ("dat").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/diff/unet_sepn.h"
#include "phc/trainers/run.h"

namespace phc::trainers::diff {

struct InSituConfig {
  std::string method = "dat";  // pat | dat
  int modes = 8;               // the chip mesh's size
  int blocks = 3;              // optical blocks
  int classes = 10;
  int batch_size = 32;
  double learning_rate = 0.01;
  double prediction_learning_rate = 0.001;
  int pretrain_epochs = 20;
  std::int64_t prediction_warmup_steps = 100;  // dat: predictions enter the forward pass after
  std::int64_t max_steps = 1000;
  double target_accuracy = 0.0;
  int eval_every = 50;
  int eval_samples = 500;
  std::uint64_t seed = 1;
};

// INVALID_ARGUMENT naming the field.
absl::Status ValidateInSituConfig(const InSituConfig& config);

class InSituRun final : public Run {
 public:
  // Pretrains in silico (unless `pretrained` parameters are given, e.g. a
  // checkpoint's params).
  static absl::StatusOr<std::unique_ptr<InSituRun>> Create(
      const InSituConfig& config, const Dataset& train, const Dataset& test,
      BlockMeasurer& physical, const std::vector<double>* pretrained = nullptr);

  absl::StatusOr<TrainingProgress> Step() override;
  // Physical accuracy on up to `samples` test samples (0: all).
  absl::StatusOr<double> Evaluate(const Dataset& data, int samples);

  StopReason stop_reason() const override { return stop_reason_; }
  const TrainingProgress& progress() const override { return progress_; }
  // The in silico model's test accuracy on its own (the error-free model).
  double model_accuracy() const { return model_accuracy_; }
  int parameter_count() const { return model_.parameter_count(); }
  // Block measurements (samples x blocks) by this object's steps (progress()'s
  // loss_evaluations also counts those before the checkpoint it resumed).
  std::int64_t measurements() const { return trainer_->measurements(); }

  // Checkpoints: every parameter, and both optimizers' states. Restore:
  // DATA_LOSS when they do not fit the model.
  std::vector<double> SaveParameters() const;
  std::vector<double> SaveOptimizerState() const { return trainer_->SaveState(); }
  RunCheckpoint Save() const override;
  absl::Status Restore(const RunCheckpoint& checkpoint) override;

 private:
  InSituRun(const InSituConfig& config, const Dataset& train, const Dataset& test);

  InSituConfig config_;
  const Dataset& test_;
  EpochMinibatches minibatches_;
  Network model_;
  std::unique_ptr<InSituTrainer> trainer_;
  BlockMeasurer* physical_ = nullptr;
  double model_accuracy_ = 0.0;
  TrainingProgress progress_;
  StopReason stop_reason_ = StopReason::kNone;
};

// The session's network: blocks x (mesh [+ error prediction] + detection),
// re-encoding between blocks, a dense readout to `classes`. With
// meshes_per_block > 1 a block cascades that many meshes coherently before
// its detectors (a multi-mesh chip; the benches' twin systems).
// The error-prediction layers DAT adds after each mesh: MakePrediction's
// (unet_sepn.h).
Network BuildBlockOnn(int modes, int blocks, int classes, bool predictions, std::uint64_t seed,
                      int meshes_per_block = 1, PredictionKind kind = PredictionKind::kLinear);

}  // namespace phc::trainers::diff
