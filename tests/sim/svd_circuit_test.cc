#include <gtest/gtest.h>

#include <cmath>

#include "photonsim/chip_layout.h"
#include "photonsim/optical_circuit.h"
#include "photonsim/svd_programming.h"
#include "tests/sim/random_unitary.h"
#include "tests/test_chips.h"

namespace photonsim {
namespace {

photonic::v1::ChipDescription SvdChip(int n, int copies) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(2);
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->set_count(copies);
  circuit->mutable_svd()->set_size(n);
  return chip;
}

TEST(ChipLayoutTest, ReplicatedSvdCoresShareTheChipNumbering) {
  const ChipLayout layout = BuildChipLayout(SvdChip(8, 3));
  ASSERT_EQ(layout.circuits.size(), 3u);
  EXPECT_EQ(layout.circuits[1].name, "core[1]");
  // Each core: two 8-mode Clements meshes (56 phases each) + 8 attenuators.
  EXPECT_EQ(layout.circuits[0].phase_count, 120);
  EXPECT_EQ(layout.circuits[2].first_phase, 240);
  EXPECT_EQ(layout.phase_count, 360);
  EXPECT_EQ(layout.input_count, 24);
  EXPECT_EQ(layout.circuits[2].first_output, 16);
}

TEST(SvdCircuitTest, OutputPowerIsSigmaSquaredWeightedPowerAfterVDagger) {
  constexpr int kN = 6;
  const ChipLayout layout = BuildChipLayout(SvdChip(kN, 1));
  auto circuit = MakeOpticalCircuit(layout.circuits[0]);
  const std::vector<double> phases = testing::RandomPhases(layout.phase_count, 17);
  circuit->SetPhases(phases);

  // The first mesh alone, and the attenuators' sin(theta/2).
  MziMesh v = MziMesh::Clements(kN);
  v.SetPhases(std::span<const double>(phases).subspan(0, v.phase_count()));
  const std::vector<double> inputs = {0.3, 0.9, 0.1, 0.5, 0.7, 0.2};
  VectorXc x(kN);
  for (int i = 0; i < kN; ++i) x(i) = inputs[i];
  const VectorXc after_v = v.TransferMatrix() * x;
  double expected_total = 0.0;
  for (int k = 0; k < kN; ++k) {
    const double sigma = std::sin(phases[v.phase_count() + k] / 2);
    expected_total += sigma * sigma * std::norm(after_v(k));
  }
  std::vector<double> positive(kN), negative(kN);
  circuit->Detect(inputs, positive, negative);
  double total = 0.0;
  for (int k = 0; k < kN; ++k) {
    total += positive[k];
    EXPECT_EQ(negative[k], 0.0);
  }
  // The output mesh is lossless and unitary: it only redistributes power.
  EXPECT_NEAR(total, expected_total, 1e-12);
}

TEST(SvdProgrammingTest, CoreRealisesTargetMatrixUpToOutputPhases) {
  for (int n : {2, 4, 8}) {
    MatrixXc w = MatrixXc::Random(n, n);
    const absl::StatusOr<SvdCoreProgram> program = ProgramSvdCore(w);
    ASSERT_TRUE(program.ok()) << program.status();
    const MatrixXc t = program->scale * SvdCoreTransfer(n, program->phases_rad);
    // |t_ij| = |w_ij| and each row differs from W's by one common phase.
    for (int r = 0; r < n; ++r) {
      const Complex phase = t(r, 0) / w(r, 0) / std::abs(t(r, 0) / w(r, 0));
      EXPECT_LT((t.row(r) - phase * w.row(r)).cwiseAbs().maxCoeff(), 1e-11) << "n=" << n;
    }
  }
}

TEST(SvdProgrammingTest, ChipCircuitDetectsTheProgrammedIntensities) {
  constexpr int kN = 8;
  MatrixXc w = MatrixXc::Random(kN, kN);
  const absl::StatusOr<SvdCoreProgram> program = ProgramSvdCore(w);
  ASSERT_TRUE(program.ok());
  const ChipLayout layout = BuildChipLayout(SvdChip(kN, 1));
  auto circuit = MakeOpticalCircuit(layout.circuits[0]);
  circuit->SetPhases(program->phases_rad);
  const std::vector<double> inputs = {0.1, 0.8, 0.3, 0.0, 0.5, 0.9, 0.2, 0.4};
  VectorXc x(kN);
  for (int i = 0; i < kN; ++i) x(i) = inputs[i];
  const VectorXc y = w * x / program->scale;
  std::vector<double> positive(kN), negative(kN);
  circuit->Detect(inputs, positive, negative);
  for (int k = 0; k < kN; ++k) EXPECT_NEAR(positive[k], std::norm(y(k)), 1e-12) << k;
}

TEST(SvdProgrammingTest, RejectsZeroAndNonSquare) {
  EXPECT_FALSE(ProgramSvdCore(MatrixXc::Zero(4, 4)).ok());
  EXPECT_FALSE(ProgramSvdCore(MatrixXc::Ones(3, 4)).ok());
}

}  // namespace
}  // namespace photonsim
