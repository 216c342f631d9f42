#include "photonsim/haar_unitary.h"

#include <Eigen/QR>
#include <random>

namespace photonsim {

MatrixXc HaarUnitary(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  MatrixXc z(n, n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) z(r, c) = Complex(gauss(rng), gauss(rng));
  }
  Eigen::HouseholderQR<MatrixXc> qr(z);
  MatrixXc q = qr.householderQ();
  for (int k = 0; k < n; ++k) q.col(k) *= qr.matrixQR()(k, k) / std::abs(qr.matrixQR()(k, k));
  return q;
}

}  // namespace photonsim
