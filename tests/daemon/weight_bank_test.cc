// Microring weight banks through the ChipController on the simulator:
// calibration, closed-loop programming and signed products B e against the
// exact ones.
#include "phc/trainers/weight_bank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "daemon/training/controller_weight_bank.h"
#include "phc/trainers/feedback_projector.h"
#include "tests/sim_bench.h"

namespace phc::daemon {
namespace {

// The shipped DFA chip, cut to `rows` banks so the test runs in well under
// a second.
photonic::v1::ChipDescription SmallDfaChip(int rows) {
  auto description =
      testing::LoadChipDescription(std::string(PHC_SOURCE_DIR) + "/deploy/chips/mrr_dfa.textproto");
  EXPECT_TRUE(description.ok()) << description.status();
  description->mutable_circuits(0)->mutable_microring_bank()->set_rows(rows);
  return *description;
}

struct CalibratedBank {
  testing::SimBench chip;
  std::optional<ControllerWeightBank> bank;
  trainers::BankCalibration calibration;
};

CalibratedBank Calibrate(int rows, std::uint64_t seed) {
  const photonic::v1::ChipDescription description = SmallDfaChip(rows);
  auto chip = testing::MakeSimBench(description, seed);
  EXPECT_TRUE(chip.ok()) << chip.status();
  CalibratedBank out{*std::move(chip), std::nullopt, {}};
  out.chip.controller->RunSync([&] {
    auto bank = ControllerWeightBank::Create(*out.chip.controller);
    ASSERT_TRUE(bank.ok()) << bank.status();
    out.bank.emplace(*std::move(bank));
    trainers::BankCalibrationOptions options;
    options.sweep_max_power_mw = 0.45 * description.heater().p_pi_mw();
    auto cal = trainers::CalibrateWeightBank(*out.bank, options);
    ASSERT_TRUE(cal.ok()) << cal.status();
    out.calibration = *std::move(cal);
  });
  return out;
}

TEST(WeightBankTest, CalibrationFindsAFullWeightRangeForEveryRing) {
  CalibratedBank b = Calibrate(8, 1);
  ASSERT_EQ(b.calibration.rings.size(), 80u);
  for (std::size_t r = 0; r < b.calibration.rings.size(); ++r) {
    // A ring tuned through its channel spans w = T_drop - T_through from
    // about -1 (far) to nearly +1 (on resonance; loss a = 0.998 and the
    // neighbouring channels take a little).
    EXPECT_LT(b.calibration.rings[r].min_weight(), -0.85) << "ring " << r;
    EXPECT_GT(b.calibration.rings[r].max_weight(), 0.85) << "ring " << r;
  }
}

TEST(WeightBankTest, ClosedLoopProgrammingReachesRandomTargets) {
  CalibratedBank b = Calibrate(8, 2);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(-0.5, 0.5);
  Eigen::MatrixXd targets(8, 10);
  for (double& t : targets.reshaped()) t = uniform(rng);
  b.chip.controller->RunSync([&] {
    auto open_loop = trainers::ProgramWeights(*b.bank, b.calibration, targets, 0, 8);
    ASSERT_TRUE(open_loop.ok()) << open_loop.status();
    auto closed = trainers::ProgramWeights(*b.bank, b.calibration, targets, 12, 8);
    ASSERT_TRUE(closed.ok()) << closed.status();
    // Stated precision: rms weight error below 0.01 of the [-1, 1] range's
    // half-width after 8 corrections, and better than open loop.
    EXPECT_LT(closed->rms_error, 0.01);
    EXPECT_LT(closed->rms_error, open_loop->rms_error);
  });
}

TEST(WeightBankTest, MicroringProjectorReproducesFeedbackProducts) {
  CalibratedBank b = Calibrate(12, 4);
  const std::vector<int> hidden = {8, 4};
  const auto feedback = trainers::MakeFeedbackMatrices(hidden, 10, 5);
  constexpr double kScale = 0.5;
  b.chip.controller->RunSync([&] {
    const Eigen::MatrixXd targets = trainers::MicroringProjector::BankTargets(feedback, kScale);
    auto programmed = trainers::ProgramWeights(*b.bank, b.calibration, targets, 8, 8);
    ASSERT_TRUE(programmed.ok()) << programmed.status();
    trainers::MicroringProjector optical(feedback, kScale, *b.bank, b.calibration);
    trainers::DigitalProjector digital(feedback);
    std::mt19937_64 rng(6);
    std::normal_distribution<float> gauss;
    Eigen::MatrixXf e(10, 32);
    for (float& v : e.reshaped()) v = gauss(rng);
    auto measured = optical.Project(e);
    auto exact = digital.Project(e);
    ASSERT_TRUE(measured.ok()) << measured.status();
    ASSERT_EQ(measured->size(), 2u);
    for (std::size_t l = 0; l < 2; ++l) {
      ASSERT_EQ((*measured)[l].rows(), hidden[l]);
      for (Eigen::Index s = 0; s < e.cols(); ++s) {
        const float max_e = e.col(s).cwiseAbs().maxCoeff();
        // Stated precision: every product within 0.1 max|e| (B e spans
        // up to +-10 max|e|), from weight error and detector noise.
        const Eigen::VectorXf diff = ((*measured)[l].col(s) - (*exact)[l].col(s)) / max_e;
        EXPECT_LT(diff.cwiseAbs().maxCoeff(), 0.1) << "layer " << l << " sample " << s;
      }
    }
  });
}

TEST(WeightBankTest, RefusesMisshapenTargetsAndInputs) {
  CalibratedBank b = Calibrate(4, 7);
  b.chip.controller->RunSync([&] {
    EXPECT_EQ(trainers::ProgramWeights(*b.bank, b.calibration, Eigen::MatrixXd::Zero(3, 10), 1, 1)
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
    Eigen::MatrixXd nan_targets = Eigen::MatrixXd::Zero(4, 10);
    nan_targets(1, 2) = std::nan("");
    EXPECT_EQ(trainers::ProgramWeights(*b.bank, b.calibration, nan_targets, 1, 1).status().code(),
              absl::StatusCode::kInvalidArgument);
    const std::vector<double> short_input(9, 0.5);
    EXPECT_EQ(trainers::MultiplySigned(*b.bank, b.calibration, short_input).status().code(),
              absl::StatusCode::kInvalidArgument);
    const std::vector<double> too_bright(10, 1.5);
    EXPECT_EQ(b.bank->Read(too_bright, 1).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

}  // namespace
}  // namespace phc::daemon
