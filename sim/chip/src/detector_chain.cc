#include "photonsim/detector_chain.h"

#include <algorithm>
#include <cmath>

namespace photonsim {

DetectorChain::DetectorChain(const photonic::v1::DetectorSpec& spec)
    : gain_ohm_(spec.tia_gain_ohm()),
      bandwidth_hz_(spec.bandwidth_hz()),
      temperature_k_(spec.temperature_k()),
      lsb_v_(spec.adc_bits() > 0 ? spec.adc_full_scale_v() / std::ldexp(1.0, spec.adc_bits() - 1)
                                 : 0.0),
      max_code_(spec.adc_bits() > 0 ? std::ldexp(1.0, spec.adc_bits() - 1) - 1.0 : 0.0) {}

double DetectorChain::SampleVarianceA2(double photodiode_current_a) const {
  if (ideal()) return 0.0;
  const double shot = 2.0 * kElectronCharge_C * std::abs(photodiode_current_a) * bandwidth_hz_;
  const double thermal = 4.0 * kBoltzmann_J_per_K * temperature_k_ * bandwidth_hz_ / gain_ohm_;
  return shot + thermal;
}

double DetectorChain::full_scale_current_a() const { return max_code_ * lsb_v_ / gain_ohm_; }

double DetectorChain::Quantise(double current_a) const {
  const double code =
      std::clamp(std::round(current_a * gain_ohm_ / lsb_v_), -max_code_ - 1.0, max_code_);
  return code * lsb_v_ / gain_ohm_;
}

double DetectorChain::Digitise(double mean_a, double photodiode_current_a, int averages,
                               std::mt19937_64& rng) const {
  if (ideal()) return mean_a;
  const double sigma = std::sqrt(SampleVarianceA2(photodiode_current_a));
  std::normal_distribution<double> gauss(0.0, 1.0);
  if (averages <= 256) {
    double sum = 0.0;
    for (int s = 0; s < averages; ++s) sum += Quantise(mean_a + sigma * gauss(rng));
    return sum / averages;
  }
  const double lsb_a = lsb_v_ / gain_ohm_;
  const double full_scale = full_scale_current_a();
  const double mean = mean_a + sigma / std::sqrt(double(averages)) * gauss(rng);
  if (sigma < lsb_a) return Quantise(mean);
  return std::clamp(mean, -full_scale - lsb_a, full_scale);
}

}  // namespace photonsim
