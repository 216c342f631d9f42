// Training sessions for the in silico -> in situ methods (pat, dat): the
// chip's mesh runs the model's optical blocks through a ControllerOracle.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "daemon/chip_controller.h"
#include "daemon/training/session_trainers.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

bool IsInSitu(const photonic::v1::SessionConfig& config);
absl::Status ValidateInSituSession(const ChipController& controller,
                                   const photonic::v1::SessionConfig& config);
absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeInSituTrainer(
    ChipController& controller, const photonic::v1::SessionConfig& config,
    const photonic::v1::SessionCheckpoint* resume_from, photonic::v1::SessionStatus& status);

}  // namespace phc::daemon
