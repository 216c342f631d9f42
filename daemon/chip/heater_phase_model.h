// The daemon's map between phases and heater powers:
//   phi_i = phi0_i + eta_i * (P_i + sum_j G_ij P_j),   P = V^2 / R_nominal.
// Nominal (phi0 = 0, or a trimmed shifter's designed phase; eta = pi / P_pi,
// G = 0) until a calibration replaces it (none fits a chip with trims).
// Powers for requested phases compensate the crosstalk G.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "photonic/v1/calibration.pb.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/crosstalk_geometry.h"
#include "photonsim/phase.h"

namespace phc::daemon {

class HeaterPhaseModel {
 public:
  // REQUIRES: a validated chip description.
  static HeaterPhaseModel Nominal(const photonic::v1::ChipDescription& chip);
  // INVALID_ARGUMENT if the calibration does not fit the chip.
  static absl::StatusOr<HeaterPhaseModel> FromCalibration(
      const photonic::v1::ChipDescription& chip, const photonic::v1::PhaseCalibration& calibration);

  int phase_count() const { return static_cast<int>(bias_rad_.size()); }
  bool calibrated() const { return calibrated_; }

  // Least non-negative powers (nominal mW) that give every target phase
  // (mod 2 pi), crosstalk compensated.
  std::vector<double> PowersForPhases(std::span<const double> target_phases_rad) const;
  // True when some heater's power reaches another's phase (G != 0): then a
  // phase's power depends on every other phase.
  bool has_crosstalk() const { return has_crosstalk_; }
  // Without crosstalk, one channel alone: the least non-negative power for
  // a target phase, and the phase a power gives (wrapped). They equal the
  // entries of PowersForPhases and PhasesForPowers exactly.
  // REQUIRES: !has_crosstalk().
  double PowerForPhase(int channel, double target_phase_rad) const {
    // max: +0 for a -0 wrap, as the crosstalk solve gives.
    return std::max(0.0, photonsim::WrapPhase(target_phase_rad - bias_rad_[channel]) /
                             efficiency_rad_per_mw_[channel]);
  }
  double PhaseForPower(int channel, double power_mw) const {
    return photonsim::WrapPhase(bias_rad_[channel] + efficiency_rad_per_mw_[channel] * power_mw);
  }
  // The phases (wrapped to [0, 2 pi)) that powers give.
  std::vector<double> PhasesForPowers(std::span<const double> powers_mw) const;

  // Fitted values, for reports and tests.
  const std::vector<double>& bias_rad() const { return bias_rad_; }
  const std::vector<double>& efficiency_rad_per_mw() const { return efficiency_rad_per_mw_; }

 private:
  HeaterPhaseModel(std::vector<double> bias_rad, std::vector<double> efficiency_rad_per_mw,
                   std::vector<std::vector<photonsim::CrosstalkEntry>> crosstalk, bool calibrated)
      : bias_rad_(std::move(bias_rad)),
        efficiency_rad_per_mw_(std::move(efficiency_rad_per_mw)),
        crosstalk_(std::move(crosstalk)),
        has_crosstalk_(std::any_of(crosstalk_.begin(), crosstalk_.end(),
                                   [](const auto& row) { return !row.empty(); })),
        calibrated_(calibrated) {}

  std::vector<double> bias_rad_;
  std::vector<double> efficiency_rad_per_mw_;
  std::vector<std::vector<photonsim::CrosstalkEntry>> crosstalk_;  // off-diagonal G
  bool has_crosstalk_;
  bool calibrated_;
};

// Crosstalk of the chip's geometry with the given parameters.
std::vector<std::vector<photonsim::CrosstalkEntry>> CrosstalkModel(
    const photonic::v1::ChipDescription& chip, double nearest, double decay_pitch,
    double cutoff_pitch);

}  // namespace phc::daemon
