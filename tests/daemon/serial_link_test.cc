// ChipController over the serial DriverSet (Qontrol + SCPI drivers on fake
// transports answering from photonsim's instrument emulators, on a manual
// clock): losing the ADC fails requests with UNAVAILABLE, drives the
// heaters of the emulated chip to 0 V and flips the link health; plugging
// it back restores service only after the backoff, with the chip safe.
#include <gtest/gtest.h>

#include "daemon/chip/chip_controller.h"
#include "instrument_emulators.h"
#include "phc/drivers/serial/fake_transport.h"
#include "phc/drivers/serial/serial_drivers.h"
#include "photonsim/sim_chip.h"
#include "tests/manual_clock.h"
#include "tests/test_chips.h"

namespace phc::daemon {
namespace {

namespace serial = drivers::serial;
namespace emu = photonsim::emulators;
using std::chrono::milliseconds;

using phc::testing::ManualClock;

class SerialLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    description_ = phc::testing::IdealMeshChip(4);
    chip_ = *photonsim::SimChip::Create(description_, 1);
    time_ = std::make_unique<emu::WallTime>(*chip_);
    devices_.push_back(emu::MakeQontrolChain(*chip_, *time_, emu::QontrolRole::kHeaters,
                                             description_.heater().max_voltage_v()));
    devices_.push_back(emu::MakeQontrolChain(*chip_, *time_, emu::QontrolRole::kModulators,
                                             description_.modulator().max_voltage_v()));
    devices_.push_back(emu::MakeScpiAdc(*chip_, *time_));
    devices_.push_back(emu::MakeScpiTec(*chip_, *time_));
    serial::SerialTransports transports;
    transports.heaters = Fake(0);
    transports.modulators = Fake(1);
    transports.adc = Fake(2);
    transports.tec = Fake(3);
    adc_ = static_cast<serial::FakeTransport*>(transports.adc.get());
    tec_ = static_cast<serial::FakeTransport*>(transports.tec.get());
    serial::SerialPorts ports;
    ports.timeout = milliseconds(0);
    ports.heater_max_voltage_v = description_.heater().max_voltage_v();
    ports.modulator_max_voltage_v = description_.modulator().max_voltage_v();
    ports.backoff = {.initial = milliseconds(100), .max = milliseconds(1000)};
    auto drivers = serial::ConnectSerialDrivers(std::move(transports), ports, clock_);
    ASSERT_TRUE(drivers.ok()) << drivers.status();
    links_ = drivers->links;
    links_->SetListener([this](bool up, const std::string&) { health_.push_back(up); });
    auto controller = ChipController::Create(description_, *std::move(drivers), 0.0);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
  }

  std::unique_ptr<serial::Transport> Fake(int device) {
    emu::LineDevice* answer = devices_[device].get();
    return std::make_unique<serial::FakeTransport>(
        [answer](const std::string& line) { return answer->Answer(line); });
  }

  absl::Status SetPhases(double phase) {
    std::vector<double> phases(controller_->phase_count(), phase);
    return controller_->RunSync([&] { return controller_->SetPhases(phases, {}).status(); });
  }
  absl::Status Read() {
    return controller_->RunSync([&] { return controller_->ReadDetectors(1).status(); });
  }
  double ChipHeaterVolts() {
    double sum = 0;
    for (double v : chip_->heater_voltages_v()) sum += v;
    return sum;
  }

  photonic::v1::ChipDescription description_;
  std::unique_ptr<photonsim::SimChip> chip_;
  std::unique_ptr<emu::WallTime> time_;
  std::vector<std::unique_ptr<emu::LineDevice>> devices_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  serial::FakeTransport* adc_ = nullptr;
  serial::FakeTransport* tec_ = nullptr;
  std::shared_ptr<drivers::LinkHealth> links_;
  std::vector<bool> health_;
  std::unique_ptr<ChipController> controller_;
};

TEST_F(SerialLinkTest, ALostAdcFailsRequestsDrivesTheHeatersSafeAndComesBackAfterItsBackoff) {
  ASSERT_TRUE(SetPhases(2.0).ok());
  ASSERT_TRUE(Read().ok());
  ASSERT_GT(ChipHeaterVolts(), 1.0) << "the emulated chip's heaters are on";

  adc_->Unplug();
  EXPECT_EQ(Read().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(links_->AllUp());
  EXPECT_EQ(health_, std::vector<bool>{false});

  const absl::Status refused = SetPhases(1.0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("adc: lost"), std::string::npos) << refused;
  EXPECT_EQ(ChipHeaterVolts(), 0.0) << "heaters driven to 0 V over the heater link";
  EXPECT_EQ(controller_->RunSync([&] { return controller_->GetPhases().total_heater_power_mw; }),
            0.0);

  adc_->PlugIn();
  clock_->SleepFor(milliseconds(99));
  EXPECT_EQ(Read().code(), absl::StatusCode::kUnavailable) << "the backoff has not passed";
  clock_->SleepFor(milliseconds(1));
  ASSERT_TRUE(Read().ok());
  EXPECT_TRUE(links_->AllUp());
  EXPECT_EQ(health_, (std::vector<bool>{false, true}));
  EXPECT_EQ(links_->restorations(), 1u);
  EXPECT_EQ(ChipHeaterVolts(), 0.0);
  ASSERT_TRUE(SetPhases(1.0).ok()) << "serving again";
  EXPECT_GT(ChipHeaterVolts(), 0.0);
}

TEST_F(SerialLinkTest, ATecThatComesBackGetsItsSetpointAgain) {
  auto read = [&] { return controller_->RunSync([&] { return controller_->ReadTemperature(); }); };
  ASSERT_TRUE(controller_->RunSync([&] { return controller_->SetTemperatureSetpoint(27.0); }).ok());
  EXPECT_EQ(chip_->tec_setpoint_c(), 27.0);

  tec_->Unplug();
  const absl::StatusOr<TemperatureReading> lost = read();
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(lost.status().message().find("TEC"), std::string::npos) << lost.status();
  EXPECT_TRUE(links_->AllUp()) << "the TEC regulates on its own: the chip stays in service";
  // Power-cycled while away, the controller holds its own default again.
  chip_->SetTecSetpointC(25.0);
  tec_->PlugIn();
  clock_->SleepFor(milliseconds(100));  // the backoff
  const absl::StatusOr<TemperatureReading> back = read();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->setpoint_c, 27.0);
  EXPECT_EQ(chip_->tec_setpoint_c(), 27.0) << "the setpoint was sent again";
}

}  // namespace
}  // namespace phc::daemon
