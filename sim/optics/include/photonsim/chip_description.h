// Validation of chip descriptions (proto/photonic/v1/config.proto).
#pragma once

#include "absl/status/status.h"
#include "photonic/v1/config.pb.h"

namespace photonsim {

inline constexpr int kMaxMeshSize = 256;
inline constexpr int kMaxPhaseShifters = 200000;

// Checks every field a chip needs; the error names the field and its value.
absl::Status ValidateChipDescription(const photonic::v1::ChipDescription& chip);

}  // namespace photonsim
