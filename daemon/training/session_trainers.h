// A training session's run on the daemon's chip. The trainers' registry
// (phc/trainers/run_registry.h) checks the config and builds the run by
// algorithm name; this is the one adapter between it and the SessionManager:
// it gives the run the chip (a ControllerOracle, the microring bank, the
// heater power and the cost on the chip) and maps the run's checkpoints to
// photonic.v1.SessionCheckpoint and back.
//
// Thread safety: SessionTrainer and MakeSessionTrainer run on any one
// thread at a time (the worker pool); their chip accesses hold the hardware
// one operation at a time.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/models/model_store.h"
#include "phc/trainers/run.h"
#include "phc/trainers/run_registry.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

class SessionTrainer {
 public:
  SessionTrainer(std::unique_ptr<trainers::RunChip> chip, std::unique_ptr<trainers::Run> run);
  ~SessionTrainer();

  absl::StatusOr<trainers::TrainingProgress> Step() { return run_->Step(); }
  const trainers::TrainingProgress& progress() const { return run_->progress(); }
  bool done() const { return run_->done(); }
  trainers::StopReason stop_reason() const { return run_->stop_reason(); }
  // On the chip in this daemon run, from where the run started its
  // accounting (trainers::RunChip::StartAccounting: after loading its data;
  // dfa: before).
  trainers::OracleCost cost() const { return chip_->cost(); }
  // Writes the run's parameters and optimizer state into the checkpoint.
  void Save(photonic::v1::SessionCheckpoint& checkpoint) const;

 private:
  std::unique_ptr<trainers::RunChip> chip_;  // outlives run_, which uses it
  std::unique_ptr<trainers::Run> run_;
};

// Checks what can be checked without loading data or touching the chip:
// INVALID_ARGUMENT naming the field.
absl::Status ValidateTrainerConfig(const ChipController& controller,
                                   const photonic::v1::SessionConfig& config);

// Builds the session's trainer: loads the data (Fashion-MNIST from
// trainers::FashionMnistDir(fashion_mnist_dir)) and, with `resume_from`,
// restores the checkpointed step and parameters; without it, starts from
// the chip's present phases and records the initial test accuracy.
// models: where a from_model session finds its model (null: refused). Records
// the trained parameter count and the data source in `status`.
absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeSessionTrainer(
    ChipController& controller, const photonic::v1::SessionConfig& config,
    const photonic::v1::SessionCheckpoint* resume_from, photonic::v1::SessionStatus& status,
    const std::filesystem::path& fashion_mnist_dir = {}, ModelStore* models = nullptr);

}  // namespace phc::daemon
