// NTKD as a training session runs it. Create(): trains the electronic
// teacher and the hybrid student (optical frontend on the chip's mesh,
// digital backend) in silico with NTK distillation, then measures the
// frontend on the chip (the fabricated system) for a fine-tuning set (a
// fraction of the training data) and the test set. Step(): one minibatch of
// post-fabrication fine-tuning of the backend alone, on the measured
// outputs, with cross-entropy + ntk_weight x the NTK alignment loss.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/distillation.h"
#include "phc/trainers/run.h"

namespace phc::trainers::diff {

struct NtkdConfig {
  int modes = 8;
  int blocks = 2;
  int hidden = 64;
  int classes = 10;
  int teacher_hidden = 256;
  double ntk_weight = 1.0;
  int teacher_epochs = 5;
  int student_epochs = 20;
  double student_learning_rate = 0.01;
  double finetune_learning_rate = 1e-3;
  double finetune_fraction = 0.1;
  int batch_size = 64;
  std::int64_t max_steps = 1000;
  double target_accuracy = 0.0;
  int eval_every = 50;
  std::uint64_t seed = 1;
};

absl::Status ValidateNtkdConfig(const NtkdConfig& config);

class NtkdRun final : public Run {
 public:
  // student_data: the features the frontend sees; teacher_data: the same
  // samples as the teacher sees them (e.g. pixels). `resume_from`: a
  // checkpoint whose parameters replace the training in silico; DATA_LOSS,
  // before the frontend is measured on `chip`, when its parameters or
  // optimizer state do not fit the networks. Restore(*resume_from) then
  // continues at its step.
  static absl::StatusOr<std::unique_ptr<NtkdRun>> Create(
      const NtkdConfig& config, const Dataset& student_train, const Dataset& student_test,
      const Dataset& teacher_train, const Dataset& teacher_test, BlockMeasurer& chip,
      const RunCheckpoint* resume_from);

  absl::StatusOr<TrainingProgress> Step() override;
  // The backend on the measured test set.
  double Evaluate();
  StopReason stop_reason() const override { return stop_reason_; }
  const TrainingProgress& progress() const override { return progress_; }
  int parameter_count() const {
    return student_.frontend.parameter_count() + student_.backend.parameter_count();
  }

  double teacher_accuracy() const { return teacher_accuracy_; }
  double student_accuracy() const { return student_accuracy_; }
  double fabricated_accuracy() const { return fabricated_accuracy_; }

  // Checkpoints: frontend, backend and teacher parameters; the fine-tuning
  // optimizer's state. Restore: DATA_LOSS when they do not fit the
  // networks. The frontend's measurements stay those Create took: create a
  // run to resume from the checkpoint as `resume_from`.
  std::vector<double> SaveParameters() const;
  std::vector<double> SaveOptimizerState() const { return tune_->adam().SaveState(); }
  RunCheckpoint Save() const override;
  absl::Status Restore(const RunCheckpoint& checkpoint) override;

 private:
  NtkdRun(const NtkdConfig& config, int teacher_inputs);
  // Frontend, backend and teacher parameters, as SaveParameters() lists them.
  absl::Status SetParameters(std::span<const double> saved);
  // The fine-tuning optimizer's state; DATA_LOSS when it does not fit.
  absl::Status SetOptimizerState(std::span<const double> state);

  NtkdConfig config_;
  HybridStudent student_;
  Network teacher_;
  std::unique_ptr<AdamGroup> tune_;
  Eigen::MatrixXd tune_features_;  // measured frontend outputs
  Eigen::MatrixXd tune_teacher_inputs_;
  std::vector<int> tune_labels_;
  Eigen::MatrixXd test_features_;  // measured
  std::vector<int> test_labels_;
  double teacher_accuracy_ = 0.0;
  double student_accuracy_ = 0.0;
  double fabricated_accuracy_ = 0.0;
  TrainingProgress progress_;
  StopReason stop_reason_ = StopReason::kNone;
};

}  // namespace phc::trainers::diff
