#include "daemon/chip/chip_controller.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "phc/drivers/sim_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

class ChipControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(phc::testing::IdealMeshChip(4)); }

  void Build(const photonic::v1::ChipDescription& description) {
    controller_.reset();
    description_ = description;
    auto chip = photonsim::SimChip::Create(description, 1);
    ASSERT_TRUE(chip.ok()) << chip.status();
    sim_ = std::shared_ptr<photonsim::SimChip>(*std::move(chip));
    auto controller = ChipController::Create(
        description, drivers::MakeSimDrivers(sim_, description.heater().max_voltage_v(),
                                             description.modulator().max_voltage_v()));
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
  }

  absl::StatusOr<PhaseState> SetPhases(std::vector<double> phases,
                                       std::vector<std::uint32_t> indices = {}) {
    return controller_->RunSync([&] { return controller_->SetPhases(phases, indices); });
  }

  // Heater voltages the simulated chip really has.
  std::vector<double> ChipVolts() const { return sim_->heater_voltages_v(); }

  photonic::v1::ChipDescription description_;
  std::shared_ptr<photonsim::SimChip> sim_;
  std::unique_ptr<ChipController> controller_;
};

TEST_F(ChipControllerTest, SetPhasesWritesNominalVoltages) {
  std::vector<double> phases(12, 0.0);
  phases[3] = std::numbers::pi;  // P_pi = 25 mW into 1 kOhm: 5 V
  const auto state = SetPhases(phases);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_NEAR(ChipVolts()[3], 5.0, 1e-12);
  EXPECT_NEAR(state->heater_power_mw[3], 25.0, 1e-9);
  EXPECT_NEAR(state->total_heater_power_mw, 25.0, 1e-9);
}

TEST_F(ChipControllerTest, HeaterEnergyIntegratesPowerOverTheInstrumentClock) {
  ASSERT_TRUE(SetPhases({std::numbers::pi}, {3}).ok());  // 25 mW
  sim_->Advance(std::chrono::seconds(2));
  ASSERT_TRUE(SetPhases({std::numbers::pi, std::numbers::pi}, {3, 4}).ok());  // 50 mW
  sim_->Advance(std::chrono::milliseconds(500));
  const PhaseState state = controller_->RunSync([&] { return controller_->GetPhases(); });
  EXPECT_NEAR(state.heater_energy_mj, 25.0 * 2.0 + 50.0 * 0.5, 1e-9);
}

TEST_F(ChipControllerTest, NegativePhaseIsWrappedToLeastPowerEquivalent) {
  const auto state = SetPhases({-std::numbers::pi / 2}, {5});
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_NEAR(state->phases_rad[5], 1.5 * std::numbers::pi, 1e-12);
  EXPECT_NEAR(state->heater_power_mw[5], 37.5, 1e-9);
}

TEST_F(ChipControllerTest, SubsetWriteKeepsOtherPhases) {
  ASSERT_TRUE(SetPhases({1.0, 2.0}, {0, 7}).ok());
  const auto state = SetPhases({0.5}, {7});
  ASSERT_TRUE(state.ok());
  EXPECT_NEAR(state->phases_rad[0], 1.0, 1e-12);
  EXPECT_NEAR(state->phases_rad[7], 0.5, 1e-12);
}

struct BadRequest {
  const char* name;
  std::vector<double> phases;
  std::vector<std::uint32_t> indices;
  const char* message_part;
};

TEST_F(ChipControllerTest, MalformedRequestsAreRejectedAndChangeNothing) {
  ASSERT_TRUE(SetPhases({1.0}, {2}).ok());
  const std::vector<double> before = ChipVolts();
  const std::vector<BadRequest> requests = {
      {"wrong length", {1, 2, 3}, {}, "phases_rad has 3 entries"},
      {"NaN", std::vector<double>(12, 0.1), {}, "is not a finite number"},
      {"infinite subset", {0.2, kInf}, {0, 1}, "phases_rad[1] = inf"},
      {"index out of range", {0.2}, {12}, "indices[0] = 12 is out of range"},
      {"duplicate index", {0.2, 0.3}, {4, 4}, "appears more than once"},
      {"length mismatch", {0.2, 0.3}, {4}, "indices has 1 entries but phases_rad has 2"},
  };
  for (BadRequest request : requests) {
    if (std::string(request.name) == "NaN") request.phases[11] = kNaN;
    const auto state = SetPhases(request.phases, request.indices);
    ASSERT_FALSE(state.ok()) << request.name;
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument) << request.name;
    EXPECT_NE(state.status().message().find(request.message_part), std::string::npos)
        << request.name << ": " << state.status();
    EXPECT_EQ(ChipVolts(), before) << request.name;
  }
}

TEST_F(ChipControllerTest, RequestOverPowerBudgetIsRefusedWithoutWriting) {
  // Twelve phases of 1.9 pi need 12 * 47.5 mW = 570 mW > the 200 mW budget.
  const auto state = SetPhases(std::vector<double>(12, 1.9 * std::numbers::pi));
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(state.status().message().find("budget of 200 mW"), std::string::npos) << state.status();
  EXPECT_EQ(ChipVolts(), std::vector<double>(12, 0.0));
}

TEST_F(ChipControllerTest, RequestOverChannelVoltageLimitIsRefused) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  chip.mutable_heater()->set_max_voltage_v(6.0);  // 2 pi needs 7.07 V
  Build(chip);
  const auto state = SetPhases({1.99 * std::numbers::pi}, {9});
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(state.status().message().find("heater channel 9"), std::string::npos) << state.status();
  EXPECT_EQ(ChipVolts(), std::vector<double>(12, 0.0));
}

TEST_F(ChipControllerTest, ReadingsMatchAnalyticAllCrossMesh) {
  // All phases 0: every MZI in the cross state; input k reaches output N-1-k.
  auto reading = controller_->RunSync([&] {
    EXPECT_TRUE(controller_->SetInputs(std::vector<double>{0.5, 0, 1, 0}).ok());
    return controller_->ReadDetectors(4);
  });
  ASSERT_TRUE(reading.ok()) << reading.status();
  const std::vector<double> expected_mw = {0.0, 1.0, 0.0, 0.25};
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(reading->optical_power_mw[k], expected_mw[k], 1e-12) << k;
    // photocurrent = 0.9 A/W * P + 1 nA, in uA.
    EXPECT_NEAR(reading->photocurrent_ua[k], 0.9 * expected_mw[k] * 1e3 + 1e-3, 1e-9) << k;
  }
  EXPECT_EQ(reading->averages, 4);
}

TEST_F(ChipControllerTest, InvalidInputsAndAveragesAreRejected) {
  controller_->RunSync([&] {
    EXPECT_EQ(controller_->SetInputs(std::vector<double>{1, 0}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(controller_->SetInputs(std::vector<double>{1, kNaN, 0, 0}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(controller_->SetInputs(std::vector<double>{1, 1.01, 0, 0}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(controller_->ReadDetectors(kMaxAverages + 1).status().code(),
              absl::StatusCode::kInvalidArgument);
  });
  EXPECT_EQ(sim_->modulator_voltages_v(), std::vector<double>(4, 0.0));
}

TEST_F(ChipControllerTest, QueryValidatesEverythingBeforeWriting) {
  const std::vector<double> phases(12, 1.0);
  const std::vector<double> bad_inputs = {1, 0, 2, 0};
  const auto reading = controller_->RunSync(
      [&] { return controller_->Query({.phases_rad = phases, .amplitudes = bad_inputs}); });
  EXPECT_EQ(reading.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChipVolts(), std::vector<double>(12, 0.0));
}

TEST_F(ChipControllerTest, DriveToSafeStateZeroesHeatersAndModulators) {
  controller_->RunSync([&] {
    ASSERT_TRUE(
        controller_->SetPhases(std::vector<double>{1.0, 2.0}, std::vector<std::uint32_t>{0, 1})
            .ok());
    ASSERT_TRUE(controller_->SetInputs(std::vector<double>{1, 1, 1, 1}).ok());
    ASSERT_TRUE(controller_->DriveToSafeState().ok());
  });
  EXPECT_EQ(ChipVolts(), std::vector<double>(12, 0.0));
  EXPECT_EQ(sim_->modulator_voltages_v(), std::vector<double>(4, 0.0));
}

TEST_F(ChipControllerTest, TheWriteLeaseHasOneTypedHolderAtATime) {
  const WriteLeaseHolder session = WriteLeaseHolder::TrainingSession("s1");
  const WriteLeaseHolder other_session = WriteLeaseHolder::TrainingSession("s2");
  controller_->RunSync([&] {
    EXPECT_TRUE(controller_->CheckClientMayWrite().ok());
    ASSERT_TRUE(controller_->TakeWriteLease(session).ok());
    EXPECT_TRUE(controller_->TakeWriteLease(session).ok());  // its holder again
    for (const WriteLeaseHolder& holder : {other_session, WriteLeaseHolder::Calibration(),
                                           WriteLeaseHolder::ModelEvaluation("s1")}) {
      const absl::Status refused = controller_->TakeWriteLease(holder);
      EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << holder.Describe();
      EXPECT_NE(refused.message().find("leased to training session s1"), std::string::npos)
          << refused;
    }
    const absl::Status client = controller_->CheckClientMayWrite();
    EXPECT_EQ(client.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(client.message().find("training session s1"), std::string::npos) << client;
    // Only its holder frees it.
    controller_->ReleaseWriteLease(other_session);
    EXPECT_TRUE(controller_->HoldsWriteLease(session));
    controller_->ReleaseWriteLease(session);
    EXPECT_FALSE(controller_->write_lease().has_value());
    EXPECT_TRUE(controller_->TakeWriteLease(WriteLeaseHolder::Calibration()).ok());
    EXPECT_EQ(controller_->write_lease()->Describe(), "calibration");
    controller_->ReleaseWriteLease(WriteLeaseHolder::Calibration());
  });
}

}  // namespace
}  // namespace phc::daemon
