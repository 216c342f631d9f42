// Photocurrent to number: shot and thermal noise, a transimpedance amplifier
// (V = gain * I) and a bipolar ADC with `bits` over [-full_scale, +full_scale]
// that saturates at its ends. The digitised current is code * LSB / gain.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "photonic/v1/config.pb.h"

namespace photonsim {

inline constexpr double kElectronCharge_C = 1.602176634e-19;
inline constexpr double kBoltzmann_J_per_K = 1.380649e-23;

class DetectorChain {
 public:
  explicit DetectorChain(const photonic::v1::DetectorSpec& spec);

  // gain 0 in the description: no noise, no quantisation.
  bool ideal() const { return gain_ohm_ <= 0.0; }

  // Variance (A^2) of one sample: shot noise 2 q I B of the current through
  // the photodiodes plus the TIA's Johnson noise 4 k T B / R.
  double SampleVarianceA2(double photodiode_current_a) const;

  // Largest current the ADC can represent.
  double full_scale_current_a() const;

  // Mean of `averages` digitised samples of a current with mean `mean_a`.
  // photodiode_current_a is the total (unsigned) current through the
  // photodiodes, which sets the shot noise. Above 256 averages the mean is
  // drawn from its Gaussian limit and quantised once when the noise is below
  // one LSB (no dithering), else left unquantised.
  double Digitise(double mean_a, double photodiode_current_a, int averages,
                  std::mt19937_64& rng) const;
  // Digitise for every channel at once: out[i] from mean_a[i] and
  // photodiode_current_a[i]. The Gaussian samples are drawn in one vectorised
  // batch (FillStandardNormals), channel after channel.
  // REQUIRES: equal lengths.
  void DigitiseAll(std::span<const double> mean_a, std::span<const double> photodiode_current_a,
                   int averages, std::mt19937_64& rng, std::span<double> out) const;

 private:
  // Inline: DigitiseAll calls it for every sample.
  double Quantise(double current_a) const {
    // nearbyint (ties to even) is one instruction on SSE4.1 and later; which
    // way an exact half-code tie goes is below any noise.
    const double code =
        std::clamp(std::nearbyint(current_a * gain_ohm_ / lsb_v_), -max_code_ - 1.0, max_code_);
    return code * lsb_v_ / gain_ohm_;
  }

  double gain_ohm_;
  double bandwidth_hz_;
  double temperature_k_;
  double lsb_v_;
  double max_code_;
  mutable std::vector<double> normals_;  // scratch; the owner serialises calls
};

}  // namespace photonsim
