// Add-drop microring resonators and WDM weight banks.
//
// A symmetric add-drop ring (self-coupling r on both bus couplers, round-trip
// field transmission a) at round-trip phase detuning phi has
//   T_through = (a^2 r^2 - 2 a r^2 cos phi + r^2) / (1 - 2 a r^2 cos phi + a^2 r^4)
//   T_drop    = (1 - r^2)^2 a / (1 - 2 a r^2 cos phi + a^2 r^4)
// (Bogaerts et al., Laser Photonics Rev. 6, 47 (2012)). Balanced detection
// of drop and through ports gives a weight w = T_drop - T_through in [-1, 1]:
// near +1 on resonance, near -1 far from it.
#pragma once

#include <span>
#include <vector>

#include "photonsim/eigen.h"

namespace photonsim {

struct RingCoupling {
  double self_coupling = 0.98;        // r
  double round_trip_amplitude = 1.0;  // a
};

double RingThroughTransmission(double detuning_rad, const RingCoupling& ring);
double RingDropTransmission(double detuning_rad, const RingCoupling& ring);
inline double RingWeight(double detuning_rad, const RingCoupling& ring) {
  return RingDropTransmission(detuning_rad, ring) - RingThroughTransmission(detuning_rad, ring);
}

// `rows` banks of `channels` rings. Ring (i, j) is tuned to wavelength j;
// wavelength k meets it at detuning phase(i, j) - 2 pi (k - j) * spacing_fsr,
// so neighbouring channels leak into each other's weights (inter-channel
// crosstalk). Along a bank, light not dropped by one ring reaches the next.
class MicroringBank {
 public:
  MicroringBank(int channels, int rows, RingCoupling ring, double channel_spacing_fsr);

  int channels() const { return channels_; }
  int rows() const { return rows_; }

  // Round-trip detuning of each ring, row-major (rows x channels). Only the
  // rows whose detunings changed are recomputed.
  void SetDetunings(std::span<const double> detunings_rad);
  // A detuning added to every ring (common temperature drift); recomputes
  // every row when it changes.
  void SetCommonDetuningOffset(double offset_rad);

  // Per row: optical power at the drop and through detectors for the given
  // input power on each wavelength (mW). Each row receives every channel at
  // full power.
  void Detect(std::span<const double> channel_power_mw, std::span<double> drop_mw,
              std::span<double> through_mw) const;

  // The effective weight matrix (rows x channels): d(drop - through)/dP_k.
  Eigen::MatrixXd EffectiveWeights() const;

 private:
  void RebuildRow(int row);

  int channels_;
  int rows_;
  RingCoupling ring_;
  double spacing_rad_;
  std::vector<double> detunings_rad_;
  double offset_rad_ = 0.0;
  // cos and sin of spacing * (k - j), indexed by k - j + channels - 1.
  std::vector<double> spacing_cos_, spacing_sin_;
  // Scratch for one row: angles, their sines and cosines.
  std::vector<double> row_angles_, row_sin_, row_cos_;
  Eigen::MatrixXd drop_gain_;     // rows x channels: drop power per mW on channel k
  Eigen::MatrixXd through_gain_;  // rows x channels: through power per mW on channel k
};

}  // namespace photonsim
