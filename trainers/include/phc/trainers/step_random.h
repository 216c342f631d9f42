// Per-step random streams: a step's draws depend only on (seed, step), so a
// resumed run repeats exactly what an uninterrupted one would have drawn.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace phc::trainers {

inline std::mt19937_64 StepRandom(std::uint64_t seed, std::int64_t step) {
  std::seed_seq sequence{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                         static_cast<std::uint32_t>(step),
                         static_cast<std::uint32_t>(static_cast<std::uint64_t>(step) >> 32)};
  return std::mt19937_64(sequence);
}

// `count` distinct indices from [0, n) (all of them when count >= n).
inline std::vector<int> SampleWithoutReplacement(int n, int count, std::mt19937_64& rng) {
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  count = std::min(count, n);
  for (int i = 0; i < count; ++i) {
    std::uniform_int_distribution<int> pick(i, n - 1);
    std::swap(all[i], all[pick(rng)]);
  }
  all.resize(count);
  return all;
}

}  // namespace phc::trainers
