// Thermal crosstalk as the chip's design predicts it, from heater geometry:
// what a calibration model may assume before it has measured anything. The
// fabricated chip's own crosstalk lives in the simulator's hidden truth.
#pragma once

#include <vector>

#include "photonic/v1/config.pb.h"
#include "photonsim/chip_layout.h"

namespace photonsim {

struct CrosstalkEntry {
  int source_heater = 0;
  double coupling = 0.0;  // Gamma_ij: fraction of heater j's power felt at i
};

// Gamma_ij = nearest * exp(-(d_ij - 1) / decay) for d_ij <= cutoff, within a
// circuit (the description's ThermalSpec), indexed by victim heater.
std::vector<std::vector<CrosstalkEntry>> CrosstalkFromGeometry(
    const photonic::v1::ChipDescription& chip, const ChipLayout& layout);

}  // namespace photonsim
