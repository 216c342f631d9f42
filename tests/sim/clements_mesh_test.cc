#include "photonsim/clements_mesh.h"

#include <gtest/gtest.h>

#include <numbers>
#include <random>
#include <vector>

namespace photonsim {
namespace {

std::vector<double> RandomPhases(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::vector<double> phases(count);
  for (double& p : phases) p = phase(rng);
  return phases;
}

TEST(ClementsMeshTest, HasNTimesNMinusOneOverTwoMzisInNColumns) {
  for (int n : {2, 3, 8, 16}) {
    ClementsMesh mesh(n);
    EXPECT_EQ(mesh.mzi_count(), n * (n - 1) / 2);
    EXPECT_EQ(mesh.phase_count(), n * (n - 1));
    int max_column = 0;
    for (const MziPlacement& p : mesh.placements()) {
      EXPECT_LT(p.top_mode + 1, n);
      EXPECT_EQ(p.top_mode % 2, p.column % 2);
      max_column = std::max(max_column, p.column);
    }
    // N = 2 has a single MZI; its second column is empty.
    EXPECT_EQ(max_column, n == 2 ? 0 : n - 1);
  }
}

TEST(ClementsMeshTest, LosslessMeshIsUnitary) {
  for (int n : {2, 5, 8, 16, 32}) {
    ClementsMesh mesh(n);
    mesh.SetPhases(RandomPhases(mesh.phase_count(), 100 + n));
    const MatrixXc u = mesh.TransferMatrix();
    const double error = (u.adjoint() * u - MatrixXc::Identity(n, n)).cwiseAbs().maxCoeff();
    EXPECT_LT(error, 1e-12) << "n=" << n;
  }
}

TEST(ClementsMeshTest, ImperfectCouplersKeepLosslessMeshUnitary) {
  ClementsMesh mesh(8);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> error(0.0, 0.02);
  std::vector<double> splitting(2 * mesh.mzi_count());
  for (double& e : splitting) e = error(rng);
  mesh.SetPhases(RandomPhases(mesh.phase_count(), 4), splitting);
  const MatrixXc u = mesh.TransferMatrix();
  EXPECT_LT((u.adjoint() * u - MatrixXc::Identity(8, 8)).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(ClementsMeshTest, AllCrossStateReversesModeOrderForEvenN) {
  // Every MZI at theta = 0 swaps its two modes; the Clements columns then
  // carry mode k to mode N-1-k (up to a phase).
  for (int n : {2, 4, 8, 16}) {
    ClementsMesh mesh(n);
    mesh.SetPhases(std::vector<double>(mesh.phase_count(), 0.0));
    const MatrixXc u = mesh.TransferMatrix();
    for (int out = 0; out < n; ++out) {
      for (int in = 0; in < n; ++in) {
        EXPECT_NEAR(std::norm(u(out, in)), out == n - 1 - in ? 1.0 : 0.0, 1e-12)
            << "n=" << n << " out=" << out << " in=" << in;
      }
    }
  }
}

TEST(ClementsMeshTest, BatchPropagationMatchesDenseMatrixProduct) {
  ClementsMesh mesh(16);
  mesh.SetPhases(RandomPhases(mesh.phase_count(), 11));
  const MatrixXc u = mesh.TransferMatrix();
  MatrixXc batch = MatrixXc::Random(64, 16);
  const MatrixXc expected = batch * u.transpose();  // row-wise y = U x
  mesh.Propagate(batch);
  EXPECT_LT((batch - expected).cwiseAbs().maxCoeff(), 1e-12);
}

}  // namespace
}  // namespace photonsim
