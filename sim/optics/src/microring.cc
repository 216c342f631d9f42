#include "photonsim/microring.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "phc/base/check.h"
#include "photonsim/vector_math.h"

namespace photonsim {

namespace {

// The transmissions as functions of cos(detuning), the only way they
// depend on it.
double ThroughFromCos(double c, const RingCoupling& ring) {
  const double r2 = ring.self_coupling * ring.self_coupling;
  const double a = ring.round_trip_amplitude;
  return (a * a * r2 - 2.0 * a * r2 * c + r2) / (1.0 - 2.0 * a * r2 * c + a * a * r2 * r2);
}

double DropFromCos(double c, const RingCoupling& ring) {
  const double r2 = ring.self_coupling * ring.self_coupling;
  const double a = ring.round_trip_amplitude;
  return (1.0 - r2) * (1.0 - r2) * a / (1.0 - 2.0 * a * r2 * c + a * a * r2 * r2);
}

}  // namespace

double RingThroughTransmission(double detuning_rad, const RingCoupling& ring) {
  return ThroughFromCos(std::cos(detuning_rad), ring);
}

double RingDropTransmission(double detuning_rad, const RingCoupling& ring) {
  return DropFromCos(std::cos(detuning_rad), ring);
}

MicroringBank::MicroringBank(int channels, int rows, RingCoupling ring, double channel_spacing_fsr)
    : channels_(channels),
      rows_(rows),
      ring_(ring),
      spacing_rad_(2.0 * std::numbers::pi * channel_spacing_fsr),
      detunings_rad_(static_cast<std::size_t>(channels) * rows, 0.0),
      drop_gain_(rows, channels),
      through_gain_(rows, channels) {
  for (int d = -(channels - 1); d <= channels - 1; ++d) {
    spacing_cos_.push_back(std::cos(spacing_rad_ * d));
    spacing_sin_.push_back(std::sin(spacing_rad_ * d));
  }
  row_angles_.resize(channels);
  row_sin_.resize(channels);
  row_cos_.resize(channels);
  for (int i = 0; i < rows_; ++i) RebuildRow(i);
}

// Wavelengths are mutually incoherent, so each detector's power is linear
// in the channel powers: the per-channel gains are cached per tuning.
// cos(phase_j + offset - spacing (k - j)) comes from the row's sines and
// cosines and the fixed spacing terms: one sincos per ring, not per pair.
void MicroringBank::RebuildRow(int i) {
  const double* bank = detunings_rad_.data() + static_cast<std::size_t>(i) * channels_;
  for (int j = 0; j < channels_; ++j) row_angles_[j] = bank[j] + offset_rad_;
  SinCos(row_angles_, row_sin_, row_cos_);
  for (int k = 0; k < channels_; ++k) {
    double remaining = 1.0;
    double drop = 0.0;
    for (int j = 0; j < channels_; ++j) {
      const int d = k - j + channels_ - 1;
      const double c = row_cos_[j] * spacing_cos_[d] + row_sin_[j] * spacing_sin_[d];
      drop += remaining * DropFromCos(c, ring_);
      remaining *= ThroughFromCos(c, ring_);
    }
    drop_gain_(i, k) = drop;
    through_gain_(i, k) = remaining;
  }
}

void MicroringBank::SetDetunings(std::span<const double> detunings_rad) {
  PHC_CHECK(detunings_rad.size() == detunings_rad_.size());
  for (int i = 0; i < rows_; ++i) {
    const std::size_t offset = static_cast<std::size_t>(i) * channels_;
    if (std::equal(detunings_rad.begin() + offset, detunings_rad.begin() + offset + channels_,
                   detunings_rad_.begin() + offset)) {
      continue;
    }
    std::copy_n(detunings_rad.begin() + offset, channels_, detunings_rad_.begin() + offset);
    RebuildRow(i);
  }
}

void MicroringBank::SetCommonDetuningOffset(double offset_rad) {
  if (offset_rad == offset_rad_) return;
  offset_rad_ = offset_rad;
  for (int i = 0; i < rows_; ++i) RebuildRow(i);
}

void MicroringBank::Detect(std::span<const double> channel_power_mw, std::span<double> drop_mw,
                           std::span<double> through_mw) const {
  PHC_CHECK(static_cast<int>(channel_power_mw.size()) == channels_);
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
