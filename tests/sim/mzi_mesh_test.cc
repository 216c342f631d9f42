#include "photonsim/mzi_mesh.h"

#include <gtest/gtest.h>

#include <numbers>
#include <random>
#include <vector>

#include "photonsim/clements_decomposition.h"
#include "tests/sim/random_unitary.h"

namespace photonsim {
namespace {

double UnitarityError(const MatrixXc& u) {
  return (u.adjoint() * u - MatrixXc::Identity(u.rows(), u.cols())).cwiseAbs().maxCoeff();
}

TEST(MziMeshTest, ClementsHasNTimesNMinusOneOverTwoMzisInNColumns) {
  for (int n : {2, 3, 8, 16}) {
    const MziMesh mesh = MziMesh::Clements(n);
    EXPECT_EQ(mesh.mzi_count(), n * (n - 1) / 2);
    EXPECT_EQ(mesh.phase_count(), n * (n - 1));
    // N = 2 has a single MZI; its second column would be empty.
    EXPECT_EQ(mesh.column_count(), n == 2 ? 1 : n);
    for (const MziPlacement& p : mesh.placements()) {
      EXPECT_EQ(p.bottom_mode, p.top_mode + 1);
      EXPECT_EQ(p.top_mode % 2, p.column % 2);
    }
  }
}

TEST(MziMeshTest, ReckIsATriangleOfDepthTwoNMinusThree) {
  for (int n : {3, 4, 8}) {
    const MziMesh mesh = MziMesh::Reck(n);
    EXPECT_EQ(mesh.mzi_count(), n * (n - 1) / 2);
    EXPECT_EQ(mesh.column_count(), 2 * n - 3);
  }
}

TEST(MziMeshTest, ButterflyHasLogNStagesOfNOverTwo) {
  for (int n : {2, 4, 8, 16}) {
    const MziMesh mesh = MziMesh::Butterfly(n);
    int stages = 0;
    while ((1 << stages) < n) ++stages;
    EXPECT_EQ(mesh.mzi_count(), n / 2 * stages);
    EXPECT_EQ(mesh.column_count(), stages);
  }
}

TEST(MziMeshTest, LosslessMeshesAreUnitary) {
  for (int n : {2, 5, 8, 16, 32}) {
    for (MziMesh mesh : {MziMesh::Clements(n), MziMesh::Reck(n)}) {
      mesh.SetPhases(testing::RandomPhases(mesh.phase_count(), 100 + n));
      EXPECT_LT(UnitarityError(mesh.TransferMatrix()), 1e-12) << "n=" << n;
    }
  }
  MziMesh butterfly = MziMesh::Butterfly(16);
  butterfly.SetPhases(testing::RandomPhases(butterfly.phase_count(), 5));
  EXPECT_LT(UnitarityError(butterfly.TransferMatrix()), 1e-12);
}

TEST(MziMeshTest, ImperfectCouplersKeepMeshUnitary) {
  MziMesh mesh = MziMesh::Clements(8);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> error(0.0, 0.02);
  std::vector<double> splitting(2 * mesh.mzi_count());
  for (double& e : splitting) e = error(rng);
  mesh.SetImperfections(splitting, {});
  mesh.SetPhases(testing::RandomPhases(mesh.phase_count(), 4));
  EXPECT_LT(UnitarityError(mesh.TransferMatrix()), 1e-12);
}

TEST(MziMeshTest, InsertionLossAttenuatesEveryPathThroughAChain) {
  // Three MZIs in a row on the same two modes, 0.2 dB each.
  MziMesh chain(2, {{0, 1}, {0, 1}, {0, 1}});
  const double amplitude = std::pow(10.0, -0.2 / 20.0);  // 0.2 dB per MZI
  chain.SetImperfections({}, std::vector<double>(3, amplitude));
  chain.SetPhases(testing::RandomPhases(6, 9));
  const MatrixXc u = chain.TransferMatrix();
  // U = a^3 * (unitary): U^H U = a^6 I, i.e. 0.6 dB of power loss.
  EXPECT_LT(
      (u.adjoint() * u - std::pow(amplitude, 6) * MatrixXc::Identity(2, 2)).cwiseAbs().maxCoeff(),
      1e-13);
}

TEST(MziMeshTest, AllCrossClementsReversesModeOrderForEvenN) {
  // theta = 0 everywhere: each MZI swaps its modes; the columns carry mode k
  // to mode N-1-k (up to a phase).
  for (int n : {2, 4, 8, 16}) {
    MziMesh mesh = MziMesh::Clements(n);
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

TEST(MziMeshTest, BatchPropagationMatchesDenseMatrixProduct) {
  MziMesh mesh = MziMesh::Clements(16);
  mesh.SetPhases(testing::RandomPhases(mesh.phase_count(), 11));
  mesh.SetOutputPhases(testing::RandomPhases(16, 12));
  const MatrixXc u = mesh.TransferMatrix();
  MatrixXc batch = MatrixXc::Random(64, 16);
  const MatrixXc expected = batch * u.transpose();  // row-wise y = U x
  mesh.Propagate(batch);
  EXPECT_LT((batch - expected).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(ClementsDecompositionTest, ReconstructsRandomUnitaries) {
  for (int n : {2, 3, 4, 7, 8, 16, 32}) {
    const MatrixXc target = testing::HaarUnitary(n, 1000 + n);
    const absl::StatusOr<MeshProgram> program = DecomposeClements(target);
    ASSERT_TRUE(program.ok()) << program.status();
    MziMesh mesh = MziMesh::Clements(n);
    mesh.SetPhases(program->phases_rad);
    mesh.SetOutputPhases(program->output_phases_rad);
    EXPECT_LT((mesh.TransferMatrix() - target).cwiseAbs().maxCoeff(), 1e-12) << "n=" << n;
  }
}

TEST(ClementsDecompositionTest, ReconstructsPermutationsAndIdentity) {
  // Degenerate cases: many elements are exactly zero.
  for (int n : {4, 8}) {
    MatrixXc reversal = MatrixXc::Zero(n, n);
    for (int k = 0; k < n; ++k) reversal(n - 1 - k, k) = 1.0;
    for (const MatrixXc& target : {MatrixXc(MatrixXc::Identity(n, n)), reversal}) {
      const absl::StatusOr<MeshProgram> program = DecomposeClements(target);
      ASSERT_TRUE(program.ok()) << program.status();
      MziMesh mesh = MziMesh::Clements(n);
      mesh.SetPhases(program->phases_rad);
      mesh.SetOutputPhases(program->output_phases_rad);
      EXPECT_LT((mesh.TransferMatrix() - target).cwiseAbs().maxCoeff(), 1e-12) << "n=" << n;
    }
  }
}

TEST(ClementsDecompositionTest, RejectsNonUnitaryAndNonSquare) {
  EXPECT_EQ(DecomposeClements(MatrixXc::Ones(4, 4)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecomposeClements(MatrixXc::Identity(3, 4)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace photonsim
