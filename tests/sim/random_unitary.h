// Random test inputs for the optics tests.
#pragma once

#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

#include "photonsim/eigen.h"
#include "photonsim/haar_unitary.h"

namespace photonsim::testing {

inline std::vector<double> RandomPhases(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::vector<double> phases(count);
  for (double& p : phases) p = phase(rng);
  return phases;
}

using photonsim::HaarUnitary;

}  // namespace photonsim::testing
