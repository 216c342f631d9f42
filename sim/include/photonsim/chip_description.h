// Validation of chip descriptions (proto/photonic/v1/config.proto).
#pragma once

#include "absl/status/status.h"
#include "photonic/v1/config.pb.h"

namespace photonsim {

inline constexpr int kMaxMeshSize = 256;

// Checks every field a chip needs; the error names the field and its value.
absl::Status ValidateChipDescription(const photonic::v1::ChipDescription& chip);

// Phase shifter count of the described chip (N(N-1) for a Clements mesh).
// REQUIRES: ValidateChipDescription(chip).ok().
int PhaseShifterCount(const photonic::v1::ChipDescription& chip);

}  // namespace photonsim
