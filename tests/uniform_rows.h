// Random input rows for tests of batched reads: rows x width values drawn
// uniformly from [low, high), row-major, fixed by the seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace phc::testing {

inline std::vector<double> UniformRows(int rows, int width, double low, double high,
                                       std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> value(low, high);
  std::vector<double> all(static_cast<std::size_t>(rows) * width);
  for (double& v : all) v = value(rng);
  return all;
}

}  // namespace phc::testing
