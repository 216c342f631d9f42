// The chip's write lease, held by one of the daemon's own long tasks at a
// time: a training session, a calibration, or programming or evaluating a
// deployed model. While it is held, clients' writes (phases, inputs,
// calibration, sessions) are refused and reads go on. The holder is typed:
// who holds the chip is compared as a task and its id, not as a string.
// (Clients' own leases, LeaseManager, decide which client may write at all.)
#pragma once

#include <string>

#include "absl/strings/str_cat.h"

namespace phc::daemon {

enum class LeaseTask { kTrainingSession, kCalibration, kModelProgramming, kModelEvaluation };

struct WriteLeaseHolder {
  LeaseTask task = LeaseTask::kCalibration;
  std::string id;  // the session's or model's id; empty for a calibration

  static WriteLeaseHolder TrainingSession(std::string session_id) {
    return {.task = LeaseTask::kTrainingSession, .id = std::move(session_id)};
  }
  static WriteLeaseHolder Calibration() { return {.task = LeaseTask::kCalibration, .id = {}}; }
  static WriteLeaseHolder ModelProgramming(std::string model_id) {
    return {.task = LeaseTask::kModelProgramming, .id = std::move(model_id)};
  }
  static WriteLeaseHolder ModelEvaluation(std::string model_id) {
    return {.task = LeaseTask::kModelEvaluation, .id = std::move(model_id)};
  }

  bool operator==(const WriteLeaseHolder&) const = default;

  // For people: "training session s1", "calibration", "model programming m".
  std::string Describe() const {
    switch (task) {
      case LeaseTask::kTrainingSession:
        return absl::StrCat("training session ", id);
      case LeaseTask::kCalibration:
        return "calibration";
      case LeaseTask::kModelProgramming:
        return absl::StrCat("model programming ", id);
      case LeaseTask::kModelEvaluation:
        return absl::StrCat("model evaluation ", id);
    }
    return "an unknown task";
  }
};

}  // namespace phc::daemon
