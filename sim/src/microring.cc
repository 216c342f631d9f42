#include "photonsim/microring.h"

#include <cassert>
#include <cmath>
#include <numbers>

namespace photonsim {

double RingThroughTransmission(double detuning_rad, const RingCoupling& ring) {
  const double r2 = ring.self_coupling * ring.self_coupling;
  const double a = ring.round_trip_amplitude;
  const double c = std::cos(detuning_rad);
  return (a * a * r2 - 2.0 * a * r2 * c + r2) / (1.0 - 2.0 * a * r2 * c + a * a * r2 * r2);
}

double RingDropTransmission(double detuning_rad, const RingCoupling& ring) {
  const double r2 = ring.self_coupling * ring.self_coupling;
  const double a = ring.round_trip_amplitude;
  const double c = std::cos(detuning_rad);
  return (1.0 - r2) * (1.0 - r2) * a / (1.0 - 2.0 * a * r2 * c + a * a * r2 * r2);
}

MicroringBank::MicroringBank(int channels, int rows, RingCoupling ring, double channel_spacing_fsr)
    : channels_(channels),
      rows_(rows),
      ring_(ring),
      spacing_rad_(2.0 * std::numbers::pi * channel_spacing_fsr),
      detunings_rad_(static_cast<std::size_t>(channels) * rows, 0.0) {
  SetDetunings(std::vector<double>(detunings_rad_));
}

void MicroringBank::SetDetunings(std::span<const double> detunings_rad) {
  assert(detunings_rad.size() == detunings_rad_.size());
  detunings_rad_.assign(detunings_rad.begin(), detunings_rad.end());
  // Wavelengths are mutually incoherent, so each detector's power is linear
  // in the channel powers: cache the per-channel gains once per tuning.
  drop_gain_.resize(rows_, channels_);
  through_gain_.resize(rows_, channels_);
  for (int i = 0; i < rows_; ++i) {
    const double* bank = detunings_rad_.data() + static_cast<std::size_t>(i) * channels_;
    for (int k = 0; k < channels_; ++k) {
      double remaining = 1.0;
      double drop = 0.0;
      for (int j = 0; j < channels_; ++j) {
        const double detuning = bank[j] - spacing_rad_ * (k - j);
        drop += remaining * RingDropTransmission(detuning, ring_);
        remaining *= RingThroughTransmission(detuning, ring_);
      }
      drop_gain_(i, k) = drop;
      through_gain_(i, k) = remaining;
    }
  }
}

void MicroringBank::Detect(std::span<const double> channel_power_mw, std::span<double> drop_mw,
                           std::span<double> through_mw) const {
  assert(static_cast<int>(channel_power_mw.size()) == channels_);
  const Eigen::Map<const Eigen::VectorXd> power(channel_power_mw.data(), channels_);
  Eigen::Map<Eigen::VectorXd>(drop_mw.data(), rows_) = drop_gain_ * power;
  Eigen::Map<Eigen::VectorXd>(through_mw.data(), rows_) = through_gain_ * power;
}

Eigen::MatrixXd MicroringBank::EffectiveWeights() const {
  Eigen::MatrixXd weights(rows_, channels_);
  std::vector<double> power(channels_, 0.0), drop(rows_), through(rows_);
  for (int k = 0; k < channels_; ++k) {
    power.assign(channels_, 0.0);
    power[k] = 1.0;
    Detect(power, drop, through);
    for (int i = 0; i < rows_; ++i) weights(i, k) = drop[i] - through[i];
  }
  return weights;
}

}  // namespace photonsim
