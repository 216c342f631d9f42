// One turn of phase, and phases wrapped onto it.
#pragma once

#include <cmath>
#include <numbers>

namespace photonsim {

inline constexpr double kTwoPi = 2.0 * std::numbers::pi;

// phase_rad wrapped into [0, 2 pi). fmod of a value just below 0 can round
// up to exactly 2 pi; that case returns 0.
inline double WrapPhase(double phase_rad) {
  double wrapped = std::fmod(phase_rad, kTwoPi);
  if (wrapped < 0.0) wrapped += kTwoPi;
  return wrapped >= kTwoPi ? 0.0 : wrapped;
}

}  // namespace photonsim
