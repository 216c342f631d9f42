#include "phc/trainers/run.h"

namespace phc::trainers {

std::string StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "running";
    case StopReason::kMaxSteps:
      return "max_steps";
    case StopReason::kQueryBudget:
      return "query_budget";
    case StopReason::kTargetAccuracy:
      return "target_accuracy";
  }
  return "unknown";
}

}  // namespace phc::trainers
