#include "phc/trainers/onn_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "phc/trainers/model_oracle.h"
#include "photonsim/svd_programming.h"
#include "tests/test_chips.h"

namespace phc::trainers {
namespace {

photonic::v1::ChipDescription SvdChip(int cores, int size) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(size);
  chip.clear_circuits();
  auto* circuit = chip.add_circuits();
  circuit->set_name("core");
  circuit->set_count(cores);
  circuit->mutable_svd()->set_size(size);
  chip.set_max_total_heater_power_mw(1e6);
  return chip;
}

std::vector<double> RandomPhases(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 2 * std::numbers::pi);
  std::vector<double> p(n);
  for (double& x : p) x = u(rng);
  return p;
}

TEST(ModelOracleTest, LosslessMeshConservesPowerAndCountsQueries) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  chip.set_max_total_heater_power_mw(1e6);
  ModelOracle oracle(chip);
  ASSERT_TRUE(oracle.SetPhases(RandomPhases(12, 1)).ok());
  const std::vector<double> amplitudes = {0.2, 1.0, 0.5, 0.0};
  const absl::StatusOr<std::vector<double>> out = oracle.Query(amplitudes);
  ASSERT_TRUE(out.ok());
  double total = 0;
  for (double p : *out) total += p;
  EXPECT_NEAR(total, 1.0 * (0.04 + 1.0 + 0.25), 1e-12);  // laser 1 mW per input
  EXPECT_EQ(oracle.cost().queries, 1);
  EXPECT_EQ(oracle.cost().phase_writes, 1);
}

TEST(ModelOracleTest, PowerIsTheWrappedPhaseOverPiTimesPpi) {
  ModelOracle oracle(phc::testing::IdealMeshChip(2));  // P_pi 25 mW
  const std::vector<double> powers =
      oracle.HeaterPowersMw(std::vector<double>{std::numbers::pi, -std::numbers::pi / 2});
  EXPECT_NEAR(powers[0], 25.0, 1e-12);
  EXPECT_NEAR(powers[1], 37.5, 1e-12);  // -pi/2 wraps to 3 pi / 2
  // 10 phases at pi is 250 mW, over the test chip's 200 mW budget.
  ModelOracle four(phc::testing::IdealMeshChip(4));
  EXPECT_EQ(four.SetPhases(std::vector<double>(12, std::numbers::pi)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(four.SetPhases(std::vector<double>(3, 0.0)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OnnModelTest, BlockedLayerMatchesTheIncoherentSumOfCoreTransfers) {
  // widths 8 -> 4 -> 3 on 4x4 SVD cores: layer 0 has 1 x 2 blocks, layer 1
  // one block; three cores.
  const photonic::v1::ChipDescription chip = SvdChip(3, 4);
  ModelOracle oracle(chip);
  const absl::StatusOr<OnnModel> model = OnnModel::Create(oracle.layout(), {{8, 4, 3}, 5.0, 0});
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->blocks().size(), 3u);
  const int per_core = 2 * 4 * 3 + 4;
  ASSERT_EQ(model->trainable_phases().size(), 3u * per_core);
  const std::vector<double> phases = RandomPhases(3 * per_core, 7);
  ASSERT_TRUE(oracle.SetPhases(phases).ok());
  Eigen::MatrixXd x(1, 8);
  x << 0.1, 0.9, 0.3, 1.0, 0.5, 0.0, 0.7, 0.2;
  const absl::StatusOr<Eigen::MatrixXd> logits = model->Forward(oracle, x);
  ASSERT_TRUE(logits.ok()) << logits.status();

  auto core = [&](int c) {
    return photonsim::SvdCoreTransfer(
        4, std::vector<double>(phases.begin() + c * per_core, phases.begin() + (c + 1) * per_core));
  };
  const Eigen::VectorXcd x0 = x.row(0).head(4).transpose().cast<std::complex<double>>();
  const Eigen::VectorXcd x1 = x.row(0).tail(4).transpose().cast<std::complex<double>>();
  const Eigen::VectorXd p = (core(0) * x0).cwiseAbs2() + (core(1) * x1).cwiseAbs2();
  const Eigen::VectorXd a = (p / p.maxCoeff()).cwiseSqrt();
  const Eigen::VectorXd q = (core(2) * a.cast<std::complex<double>>()).cwiseAbs2().head(3);
  const Eigen::VectorXd expected = 5.0 * q / q.sum();
  for (int o = 0; o < 3; ++o) EXPECT_NEAR((*logits)(0, o), expected(o), 1e-12) << o;
  EXPECT_EQ(oracle.cost().queries, 2);  // one query per layer
}

TEST(OnnModelTest, RefusesArchitecturesTheChipCannotHold) {
  const photonic::v1::ChipDescription chip = SvdChip(2, 4);
  ModelOracle oracle(chip);
  EXPECT_EQ(OnnModel::Create(oracle.layout(), {{8, 4, 3}, 5.0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);  // needs three cores
  EXPECT_EQ(OnnModel::Create(oracle.layout(), {{4}, 5.0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OnnModel::Create(oracle.layout(), {{4, 0}, 5.0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OnnModel::Create(oracle.layout(), {{4, 3}, 5.0, 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LossTest, CrossEntropyAndAccuracyMatchHandComputedValues) {
  Eigen::MatrixXd logits(2, 2);
  logits << 0.0, 0.0, 2.0, 0.0;
  // Row 0: log 2; row 1, label 1: log(1 + e^2) - 0.
  EXPECT_NEAR(CrossEntropy(logits, {0, 1}), (std::log(2.0) + std::log1p(std::exp(2.0))) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(Accuracy(logits, {0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(Accuracy(logits, {1, 1}), 0.0);
}

}  // namespace
}  // namespace phc::trainers
