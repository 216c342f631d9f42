// Random test inputs for the optics tests.
#pragma once

#include <Eigen/QR>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

#include "photonsim/eigen.h"

namespace photonsim::testing {

inline std::vector<double> RandomPhases(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::vector<double> phases(count);
  for (double& p : phases) p = phase(rng);
  return phases;
}

// Haar-random unitary: QR of a complex Gaussian matrix with R's diagonal
// phases moved into Q (Mezzadri, 2007).
inline MatrixXc HaarUnitary(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  MatrixXc z(n, n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) z(r, c) = Complex(gauss(rng), gauss(rng));
  }
  Eigen::HouseholderQR<MatrixXc> qr(z);
  MatrixXc q = qr.householderQ();
  const MatrixXc r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (int k = 0; k < n; ++k) q.col(k) *= r(k, k) / std::abs(r(k, k));
  return q;
}

}  // namespace photonsim::testing
