// Private to trainers: the registry's algorithms (one Validate / Create pair
// per family, each beside the conversion from the session config) and the
// run wrapper they share.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "phc/trainers/algorithms.h"
#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/run_registry.h"

namespace phc::trainers::runs {

// What a registry-built run refers to; it lives as long as the run.
struct RunResources {
  std::unique_ptr<TrainTestSplit> data;
  std::unique_ptr<TrainTestSplit> teacher_data;    // ntkd: the samples as the teacher sees them
  std::unique_ptr<ChipNetwork> network;            // ZO: an OnnModel or a deployed model
  std::unique_ptr<diff::OracleMeasurer> measurer;  // pat, dat, ntkd
};

// An algorithm's run with its resources. With `chip_power` (for runs whose
// progress does not measure heater power), each step reports the chip's
// heater power and its mean over the steps, and the cost on the chip; the
// power sum goes into checkpoints.
class HostedRun final : public Run {
 public:
  HostedRun(RunResources resources, std::unique_ptr<Run> run, RunChip* chip_power);

  absl::StatusOr<TrainingProgress> Step() override;
  const TrainingProgress& progress() const override;
  StopReason stop_reason() const override { return run_->stop_reason(); }
  RunCheckpoint Save() const override;
  absl::Status Restore(const RunCheckpoint& checkpoint) override;

 private:
  RunResources resources_;    // outlives run_ (members are destroyed in reverse)
  std::unique_ptr<Run> run_;  // refers to resources_
  RunChip* chip_power_;       // null: run_'s own progress
  TrainingProgress progress_;
  double power_sum_mw_ = 0.0;  // over every step, across restarts
};

inline void Note(const RunOptions& options, std::string_view note) {
  if (options.log) options.log(note);
}

// Notes "data loaded: <source>, <n> training and <m> test samples" once
// every dataset of the run is loaded.
void NoteDataLoaded(const RunOptions& options, const TrainTestSplit& data);

// A from_model session's stored model, placed on the chip (a new session
// needs it deployed now, a resumed one too when deployed_on_resume), and
// its data in resources.data.
absl::StatusOr<ChipModel> LoadFromModel(const photonic::v1::SessionConfig& config, RunChip& chip,
                                        const RunOptions& options, RunResources& resources,
                                        bool deployed_on_resume = false);

// A model run's session bookkeeping after a step: the test accuracy from
// `evaluate` every eval_every steps and at max_steps, then the stop reason
// (target accuracy, max_steps).
absl::Status AfterModelStep(const photonic::v1::SessionConfig& config,
                            const std::function<absl::StatusOr<double>()>& evaluate,
                            TrainingProgress& progress, StopReason& stop_reason);

// The deployed model's accuracy measured on the chip over the first
// config.test_samples() test images.
absl::StatusOr<double> ChipTestAccuracy(onn::Model& model, const onn::ChipPlacement& placement,
                                        ChipOracle& oracle, const TrainTestSplit& data,
                                        const photonic::v1::SessionConfig& config);

// Writes the model's phases to its cores, `base_phases` everywhere else.
absl::Status DeployModel(const onn::Model& model, const onn::ChipPlacement& placement,
                         ChipOracle& oracle, std::span<const double> base_phases);

// A model run's checkpoint back into `model`, its optimizer (through
// `restore_optimizer`), `progress` and `stop_reason`; DATA_LOSS naming the
// algorithm when the checkpoint does not fit.
absl::Status RestoreModelRun(
    const RunCheckpoint& checkpoint, std::string_view algorithm,
    const photonic::v1::SessionConfig& config, onn::Model& model,
    const std::function<absl::Status(std::span<const double>)>& restore_optimizer,
    TrainingProgress& progress, StopReason& stop_reason);

// What every Create returns: `run` wrapped with its resources, restored
// from options.resume_from, or (a new run) with initial_accuracy() as its
// test accuracy before the first step.
absl::StatusOr<StartedRun> Started(RunResources resources, std::unique_ptr<Run> run,
                                   RunChip* chip_power, int trained_parameters,
                                   const RunOptions& options,
                                   const std::function<absl::StatusOr<double>()>& initial_accuracy);

// coordinate_zo, gaussian_zo, spsa, stp, sparse_zo: an ONN's phases on the chip.
absl::Status ValidateZo(const photonic::v1::SessionConfig& config,
                        const photonic::v1::ChipDescription& chip,
                        const photonsim::ChipLayout& layout);
absl::StatusOr<StartedRun> CreateZo(const photonic::v1::SessionConfig& config, RunChip& chip,
                                    const RunOptions& options);

// dfa: a digital network; feedback through the chip's microring bank or not.
absl::Status ValidateDfa(const photonic::v1::SessionConfig& config,
                         const photonic::v1::ChipDescription& chip,
                         const photonsim::ChipLayout& layout);
absl::StatusOr<StartedRun> CreateDfa(const photonic::v1::SessionConfig& config, RunChip& chip,
                                     const RunOptions& options);

// pat, dat: in silico pretraining, then adaptation on the chip's mesh.
absl::Status ValidateInSitu(const photonic::v1::SessionConfig& config,
                            const photonic::v1::ChipDescription& chip,
                            const photonsim::ChipLayout& layout);
absl::StatusOr<StartedRun> CreateInSitu(const photonic::v1::SessionConfig& config, RunChip& chip,
                                        const RunOptions& options);

// pat, dat with from_model: the deployed model adapted on the chip
// (model_in_situ_runs.cc).
absl::Status ValidateInSituFromModel(const photonic::v1::SessionConfig& config);
absl::StatusOr<StartedRun> CreateInSituFromModel(const photonic::v1::SessionConfig& config,
                                                 RunChip& chip, const RunOptions& options);

// ntkd: distillation in silico, the backend fine-tuned on the chip's outputs.
absl::Status ValidateNtkd(const photonic::v1::SessionConfig& config,
                          const photonic::v1::ChipDescription& chip,
                          const photonsim::ChipLayout& layout);
absl::StatusOr<StartedRun> CreateNtkd(const photonic::v1::SessionConfig& config, RunChip& chip,
                                      const RunOptions& options);

// ntkd with from_model: the deployed hybrid model's frontend measured on
// the chip, its digital backend fine-tuned (ntkd_model_runs.cc).
absl::Status ValidateNtkdFromModel(const photonic::v1::SessionConfig& config);
absl::StatusOr<StartedRun> CreateNtkdFromModel(const photonic::v1::SessionConfig& config,
                                               RunChip& chip, const RunOptions& options);

// gift: a deployed model adapted to the chip's measured noise structure.
absl::Status ValidateGift(const photonic::v1::SessionConfig& config,
                          const photonic::v1::ChipDescription& chip,
                          const photonsim::ChipLayout& layout);
absl::StatusOr<StartedRun> CreateGift(const photonic::v1::SessionConfig& config, RunChip& chip,
                                      const RunOptions& options);

}  // namespace phc::trainers::runs
