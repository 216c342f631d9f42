// The values a fabricated chip really has. Drawn once from a seed around the
// description's nominal values; the daemon never sees them.
#pragma once

#include <cstdint>
#include <vector>

#include "photonic/v1/config.pb.h"
#include "photonsim/chip_layout.h"
#include "photonsim/crosstalk_geometry.h"

namespace photonsim {

struct HiddenTruth {
  // Per phase shifter (chip-wide numbering).
  std::vector<double> heater_resistance_ohm;
  std::vector<double> heater_efficiency_rad_per_mw;
  std::vector<double> phase_bias_rad;
  std::vector<std::vector<CrosstalkEntry>> crosstalk;  // off-diagonal Gamma, by victim heater
  // A trimmed (passive) shifter's fixed phase as made: the designed phase
  // times its efficiency's relative error; 0 for a shifter with a heater.
  // A trimmed shifter has no heater (its resistance is infinite) and no
  // phase bias (the trim set its phase after fabrication).
  std::vector<double> trimmed_phase_rad;
  // Per MZI slot (chip-wide numbering, see CircuitLayout::first_mzi). A
  // coherent SVD core's homodyne stage fills one slot: its coupler's error is
  // the slot's first splitting entry (the second is drawn but unused) and its
  // LO arm's transmission a_k the slot's amplitude. The LO heaters' phase
  // bias psi0_k, resistance and efficiency are those of any phase shifter.
  std::vector<double> splitting_error_rad;  // input, output coupler
  std::vector<double> mzi_amplitude;        // 10^(-insertion loss dB / 20)
  // Per detector.
  std::vector<double> responsivity_a_per_w;
  std::vector<double> dark_current_a;
  double modulator_v_pi_v = 0.0;
  double laser_power_mw = 0.0;
  double thermal_tau_s = 0.0;
  double phase_drift_rad_per_k = 0.0;
  double reference_temperature_c = 25.0;  // where phase_bias_rad holds
};

// Every value at its nominal; crosstalk from geometry.
// REQUIRES: ValidateChipDescription(chip).ok().
HiddenTruth NominalTruth(const photonic::v1::ChipDescription& chip);

// Nominal values perturbed as the description's FabricationSpec says; the
// same seed always gives the same chip.
HiddenTruth DrawHiddenTruth(const photonic::v1::ChipDescription& chip, std::uint64_t seed);

}  // namespace photonsim
