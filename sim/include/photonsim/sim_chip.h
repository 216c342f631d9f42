// SimChip: a simulated photonic chip at the electrical level the drivers see.
// Inputs are heater and modulator voltages, outputs are photocurrents.
//
// The chip is drawn around a ChipDescription: its HiddenTruth (the values the
// fab actually produced) is not visible to the daemon, which has to calibrate
// as on hardware. This first version draws an ideal chip (truth = nominal);
// fabrication spreads, crosstalk, dynamics and noise extend HiddenTruth.
//
// Thread safety: not thread-safe; the owner serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/clements_mesh.h"

namespace photonsim {

struct HiddenTruth {
  std::vector<double> heater_resistance_ohm;         // per phase shifter
  std::vector<double> heater_efficiency_rad_per_mw;  // per phase shifter
  std::vector<double> phase_bias_rad;                // per phase shifter
  std::vector<double> splitting_error_rad;           // input, output coupler per MZI
  double modulator_v_pi_v = 0.0;
  double laser_power_mw = 0.0;  // into each input at full modulation
  double responsivity_a_per_w = 0.0;
  double dark_current_a = 0.0;
};

// The truth of a perfectly fabricated chip: every value at its nominal.
// REQUIRES: ValidateChipDescription(chip).ok().
HiddenTruth NominalTruth(const photonic::v1::ChipDescription& chip);

class SimChip {
 public:
  // Validates the description; the seed selects the hidden chip.
  static absl::StatusOr<std::unique_ptr<SimChip>> Create(const photonic::v1::ChipDescription& chip,
                                                         std::uint64_t seed);

  SimChip(const photonic::v1::ChipDescription& chip, HiddenTruth truth);

  int heater_count() const { return mesh_.phase_count(); }
  int modulator_count() const { return mesh_.mode_count(); }
  int detector_count() const { return mesh_.mode_count(); }

  // REQUIRES: channels and volts have equal length; channels in range.
  void SetHeaterVoltages(std::span<const int> channels, std::span<const double> volts_v);
  // REQUIRES: volts_v.size() == modulator_count().
  void SetModulatorVoltages(std::span<const double> volts_v);

  const std::vector<double>& heater_voltages_v() const { return heater_voltages_v_; }
  const std::vector<double>& modulator_voltages_v() const { return modulator_voltages_v_; }

  // Photocurrent of every detector, averaged over `averages` samples.
  // REQUIRES: averages >= 1.
  std::vector<double> ReadPhotocurrentsA(int averages);

  // Test-only: what the chip really is.
  const HiddenTruth& hidden_truth_for_testing() const { return truth_; }

 private:
  void UpdateMesh();

  HiddenTruth truth_;
  ClementsMesh mesh_;
  std::vector<double> heater_voltages_v_;
  std::vector<double> modulator_voltages_v_;
  bool mesh_stale_ = true;
};

}  // namespace photonsim
