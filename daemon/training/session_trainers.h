// What a training session runs: the zeroth-order trainers on the chip's
// phases (ControllerOracle) or a DFA run whose feedback may go through the
// chip's microring bank. The SessionManager drives either through this
// interface: steps, progress, cost on the chip, and checkpoint contents.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "daemon/chip_controller.h"
#include "phc/trainers/training_loop.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

class SessionTrainer {
 public:
  virtual ~SessionTrainer() = default;
  virtual absl::StatusOr<trainers::TrainingProgress> Step() = 0;
  virtual const trainers::TrainingProgress& progress() const = 0;
  virtual bool done() const = 0;
  virtual trainers::StopReason stop_reason() const = 0;
  // On the chip since this trainer was built (this daemon run).
  virtual trainers::OracleCost cost() const = 0;
  // Writes the run's parameters and optimizer state into the checkpoint.
  virtual void Save(photonic::v1::SessionCheckpoint& checkpoint) const = 0;
};

// Checks what can be checked without loading data or touching the chip:
// INVALID_ARGUMENT naming the field.
absl::Status ValidateTrainerConfig(const ChipController& controller,
                                   const photonic::v1::SessionConfig& config);

// Builds the session's trainer on the hardware thread: loads the data and,
// with `resume_from`, restores the checkpointed step and parameters; without
// it, starts from the chip's present phases and records the initial test
// accuracy, the trained parameter count and the data source in `status`.
absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeSessionTrainer(
    ChipController& controller, const photonic::v1::SessionConfig& config,
    const photonic::v1::SessionCheckpoint* resume_from, photonic::v1::SessionStatus& status);

}  // namespace phc::daemon
