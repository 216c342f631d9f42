#include "photonsim/crosstalk_geometry.h"

#include <algorithm>
#include <cmath>

namespace photonsim {

std::vector<std::vector<CrosstalkEntry>> CrosstalkFromGeometry(
    const photonic::v1::ChipDescription& chip, const ChipLayout& layout) {
  std::vector<std::vector<CrosstalkEntry>> crosstalk(layout.phase_count);
  const auto& thermal = chip.thermal();
  if (thermal.crosstalk_nearest() <= 0.0) return crosstalk;
  const double cutoff = thermal.crosstalk_cutoff_pitch() > 0 ? thermal.crosstalk_cutoff_pitch() : 3;
  for (const CircuitLayout& circuit : layout.circuits) {
    const std::vector<HeaterPosition> positions = HeaterPositions(circuit);
    for (int i = 0; i < circuit.phase_count; ++i) {
      for (int j = 0; j < circuit.phase_count; ++j) {
        if (i == j) continue;
        const double d = std::hypot(positions[i].x_pitch - positions[j].x_pitch,
                                    positions[i].y_pitch - positions[j].y_pitch);
        if (d > cutoff) continue;
        const double coupling =
            thermal.crosstalk_nearest() *
            std::exp(-(std::max(d, 1.0) - 1.0) / thermal.crosstalk_decay_pitch());
        crosstalk[circuit.first_phase + i].push_back({circuit.first_phase + j, coupling});
      }
    }
  }
  return crosstalk;
}

}  // namespace photonsim
