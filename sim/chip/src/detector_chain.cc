#include "photonsim/detector_chain.h"

#include <algorithm>
#include <cmath>

#include "phc/base/check.h"
#include "photonsim/vector_math.h"

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

double DetectorChain::Digitise(double mean_a, double photodiode_current_a, int averages,
                               std::mt19937_64& rng) const {
  double out = 0.0;
  DigitiseAll({&mean_a, 1}, {&photodiode_current_a, 1}, averages, rng, {&out, 1});
  return out;
}

void DetectorChain::DigitiseAll(std::span<const double> mean_a,
                                std::span<const double> photodiode_current_a, int averages,
                                std::mt19937_64& rng, std::span<double> out) const {
  PHC_CHECK(mean_a.size() == out.size() && photodiode_current_a.size() == out.size());
  PHC_CHECK(averages >= 1);
  if (ideal()) {
    std::copy(mean_a.begin(), mean_a.end(), out.begin());
    return;
  }
  // Up to 256 averages every sample is drawn and quantised; above, the
  // mean is drawn from its Gaussian limit.
  const bool every_sample = averages <= 256;
  const std::size_t draws = every_sample ? static_cast<std::size_t>(averages) : 1;
  normals_.resize(out.size() * draws);
  FillStandardNormals(normals_, rng);
  const double lsb_a = lsb_v_ / gain_ohm_;
  const double full_scale = full_scale_current_a();
  if (averages == 1) {
    // One sample per channel: SampleVarianceA2 and Quantise with their
    // constants in locals (members could alias `out`), so the loop
    // vectorises. (+ 0.0 turns a -0 code into +0, as the sum below does.)
    const double two_q = 2.0 * kElectronCharge_C, bandwidth_hz = bandwidth_hz_;
    const double thermal = SampleVarianceA2(0.0);
    const double gain_ohm = gain_ohm_, lsb_v = lsb_v_, max_code = max_code_;
    const double* mean = mean_a.data();
    const double* current = photodiode_current_a.data();
    const double* z = normals_.data();
    double* code_a = out.data();
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double sigma = std::sqrt(two_q * std::abs(current[i]) * bandwidth_hz + thermal);
      const double code = std::clamp(std::nearbyint((mean[i] + sigma * z[i]) * gain_ohm / lsb_v),
                                     -max_code - 1.0, max_code);
      code_a[i] = code * lsb_v / gain_ohm + 0.0;
    }
    return;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double sigma = std::sqrt(SampleVarianceA2(photodiode_current_a[i]));
    const double* z = normals_.data() + i * draws;
    if (every_sample) {
      double sum = 0.0;
      for (std::size_t s = 0; s < draws; ++s) sum += Quantise(mean_a[i] + sigma * z[s]);
      out[i] = sum / averages;
      continue;
    }
    const double mean = mean_a[i] + sigma / std::sqrt(double(averages)) * z[0];
    out[i] = sigma < lsb_a ? Quantise(mean) : std::clamp(mean, -full_scale - lsb_a, full_scale);
  }
}

}  // namespace photonsim
