#include "photonsim/mzi_mesh.h"

#include <gtest/gtest.h>

#include <numbers>
#include <random>
#include <vector>

#include "photonsim/clements_decomposition.h"
#include "photonsim/mzi.h"
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

namespace photonsim {
namespace {

// A mesh with coupler errors and loss, every MZI's transfer built from
// scratch by MziMatrix: the reference for the incremental rebuilds.
struct FabricatedMesh {
  MziMesh mesh = MziMesh::Clements(12);
  std::vector<double> splitting, amplitude;

  FabricatedMesh() {
    std::mt19937_64 rng(21);
    std::normal_distribution<double> error(0.0, 0.05);
    std::uniform_real_distribution<double> loss(0.95, 1.0);
    for (int m = 0; m < mesh.mzi_count(); ++m) {
      splitting.push_back(error(rng));
      splitting.push_back(error(rng));
      amplitude.push_back(loss(rng));
    }
    mesh.SetImperfections(splitting, amplitude);
  }

  double WorstMziError(const std::vector<double>& phases, double offset = 0.0) const {
    double worst = 0.0;
    for (int m = 0; m < mesh.mzi_count(); ++m) {
      const Matrix2c expected =
          amplitude[m] * MziMatrix(phases[2 * m] + offset, phases[2 * m + 1] + offset,
                                   splitting[2 * m], splitting[2 * m + 1]);
      worst = std::max(worst, (mesh.mzi_transfer(m) - expected).cwiseAbs().maxCoeff());
    }
    return worst;
  }
};

TEST(MziMeshTest, ClosedFormTransfersMatchMziMatrixProducts) {
  FabricatedMesh f;
  const std::vector<double> phases = testing::RandomPhases(f.mesh.phase_count(), 31);
  f.mesh.SetPhases(phases);
  EXPECT_LT(f.WorstMziError(phases), 1e-14);
}

TEST(MziMeshTest, IncrementalPhaseUpdatesEqualAFreshBuild) {
  FabricatedMesh f;
  std::vector<double> phases = testing::RandomPhases(f.mesh.phase_count(), 32);
  f.mesh.SetPhases(phases);
  std::mt19937_64 rng(33);
  std::uniform_int_distribution<int> index(0, f.mesh.phase_count() - 1);
  std::uniform_real_distribution<double> phase(-10.0, 10.0);
  for (int step = 0; step < 50; ++step) {
    for (int k = 0; k <= step % 4; ++k) phases[index(rng)] = phase(rng);
    f.mesh.SetPhases(phases);
    ASSERT_LT(f.WorstMziError(phases), 1e-14) << "step " << step;
  }
  // A fresh mesh set once to the final phases has the same transfer matrix.
  MziMesh fresh = MziMesh::Clements(12);
  fresh.SetImperfections(f.splitting, f.amplitude);
  fresh.SetPhases(phases);
  EXPECT_LT((fresh.TransferMatrix() - f.mesh.TransferMatrix()).cwiseAbs().maxCoeff(), 1e-13);
}

TEST(MziMeshTest, CommonPhaseOffsetEqualsAddingItToEveryPhase) {
  FabricatedMesh f;
  const std::vector<double> phases = testing::RandomPhases(f.mesh.phase_count(), 34);
  f.mesh.SetPhases(phases);
  for (double offset : {0.3, -1.7, 1e-7, 0.0}) {
    f.mesh.SetCommonPhaseOffset(offset);
    EXPECT_LT(f.WorstMziError(phases, offset), 1e-14) << "offset " << offset;
  }
  // Phase writes under an offset keep it.
  f.mesh.SetCommonPhaseOffset(0.25);
  std::vector<double> moved = phases;
  moved[5] += 0.8;
  f.mesh.SetPhases(moved);
  EXPECT_LT(f.WorstMziError(moved, 0.25), 1e-14);
}

TEST(MziMeshTest, BlockedBatchPropagationEqualsTheTransferMatrix) {
  FabricatedMesh f;
  f.mesh.SetPhases(testing::RandomPhases(f.mesh.phase_count(), 35));
  // More rows than one block, and not a multiple of it.
  const int batch = 3 * f.mesh.batch_block_rows() + 5;
  const MatrixXc inputs = MatrixXc::Random(batch, 12);
  MatrixXc fields = inputs;
  f.mesh.Propagate(fields);
  const MatrixXc expected = inputs * f.mesh.TransferMatrix().transpose();
  EXPECT_LT((fields - expected).cwiseAbs().maxCoeff(), 1e-13);
}

}  // namespace
}  // namespace photonsim
