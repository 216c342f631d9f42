// The serial stack end to end: photonsim serves the instruments of one
// simulated chip on pseudo-terminals, photonicd drives them through its
// serial backend (Qontrol heaters and modulators, SCPI ADC and TEC), and a
// second photonicd runs the same chip (same seed) in-process. Both must
// show the same physics. Then photonsim injects faults (garbage, an
// unplugged ADC, slow replies) and the serial daemon must survive them and
// say what happened.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include "absl/status/status.h"
#include "health_check.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "subprocess.h"

namespace phc {
namespace {

namespace pb = photonic::v1;
using testing::CheckHealth;
using testing::Serving;
using testing::Subprocess;

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr std::uint64_t kSeed = 11;
const std::string kShippedChip = std::string(PHC_SOURCE_DIR) + "/deploy/chips/clements8.textproto";

// The chip is clements8 (fabrication errors, crosstalk, settling, detector
// noise) with its TEC holding the temperature exactly: its temperature
// wander (0.005 K at 0.07 rad/K) runs on the wall clock behind photonsim and
// on the virtual clock in-process, so it would differ between the two by
// design, not by a fault of the serial stack.
//
// clements8's ADC: 16 bits over 2.5 V behind a 250 ohm TIA, so one LSB is
// 2.5 / 2^16 / 250 A = 0.153 uA; its thermal and shot noise at 1 MHz is
// below 0.01 uA. Two independent readings of the same light agree within
// one LSB after 16 averages; 0.3 uA (2 LSB) is the tolerance. A phase error of 0.01 rad
// on a 100 uA output moves it by about 1 uA, so the check sees wrong physics.
constexpr double kToleranceUa = 0.3;
// Both daemons wait 20 thermal time constants after a heater write: the
// default 8 leaves e^-8 = 3e-4 of each step unsettled, about 1e-3 rad per
// phase and up to 1 uA on a bright output, and the wall-clock chip behind
// photonsim always settles longer than the in-process one.
constexpr char kSettle[] = "settle_time_constants: 20\n";

struct Daemon {
  std::unique_ptr<Subprocess> process;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::ChipService::Stub> stub;
};

template <typename Request, typename Response, typename Method>
grpc::Status Call(Daemon& daemon, Method method, const Request& request, Response& response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return (daemon.stub.get()->*method)(&context, request, &response);
}

class SerialE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/phcsXXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    std::ifstream shipped(kShippedChip);
    std::string chip((std::istreambuf_iterator<char>(shipped)), std::istreambuf_iterator<char>());
    const std::size_t wander = chip.find("stability_k: 0.005");
    ASSERT_NE(wander, std::string::npos) << "clements8 changed: update this test";
    chip.replace(wander, std::string("stability_k: 0.005").size(), "stability_k: 0");
    chip_ = (dir_ / "clements8_steady.textproto").string();
    std::ofstream(chip_) << chip;
    photonsim_ = std::make_unique<Subprocess>(std::vector<std::string>{
        PHOTONSIM_PATH, "--chip", chip_, "--seed", std::to_string(kSeed), "--link", dir_});
    for (int line = 0; line < 5; ++line) {
      std::optional<std::string> text = photonsim_->ReadStdoutLine(kStartTimeout);
      ASSERT_TRUE(text.has_value()) << "photonsim did not start: " << photonsim_->Wait().err;
      if (*text == "photonsim: ready") break;
      ASSERT_TRUE(text->starts_with("photonsim: ")) << *text;
    }
    std::ofstream(dir_ / "serial.textproto")
        << "chip_file: \"" << chip_ << "\"\nbackend: BACKEND_SERIAL\n"
        << kSettle
        << "serial { heaters: \"heaters\" modulators: \"modulators\" adc: \"adc\" tec: \"tec\" }\n";
    std::ofstream(dir_ / "sim.textproto")
        << "chip_file: \"" << chip_ << "\"\nbackend: BACKEND_SIM\nsim { seed: " << kSeed << " }\n"
        << kSettle;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Start(Daemon& daemon, const std::string& config, const std::string& socket) {
    daemon.process = std::make_unique<Subprocess>(
        std::vector<std::string>{PHOTONICD_PATH, "--config", (dir_ / config).string(), "--listen",
                                 "unix:" + (dir_ / socket).string()});
    const std::optional<std::string> line = daemon.process->ReadStdoutLine(kStartTimeout);
    if (!line.has_value()) daemon.process->Signal(SIGKILL);
    ASSERT_TRUE(line.has_value()) << "photonicd did not start: " << daemon.process->Wait().err;
    const std::string prefix = "photonicd: listening on ";
    ASSERT_TRUE(line->starts_with(prefix)) << *line;
    daemon.channel =
        grpc::CreateChannel(line->substr(prefix.size()), grpc::InsecureChannelCredentials());
    daemon.stub = pb::ChipService::NewStub(daemon.channel);
  }

  // photonsim's answer to one control line.
  void Inject(const std::string& control) {
    ASSERT_TRUE(photonsim_->WriteStdin(control + "\n"));
    for (;;) {
      std::optional<std::string> line = photonsim_->ReadStdoutLine(std::chrono::seconds(5));
      ASSERT_TRUE(line.has_value()) << "photonsim did not answer " << control;
      if (line->starts_with("photonsim: ok")) return;
      ASSERT_FALSE(line->starts_with("photonsim: error")) << *line;
    }
  }

  // Waits for the daemon's log line containing `text` (event driven: the
  // daemon logs every health change).
  bool AwaitLog(Daemon& daemon, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<std::string> line =
          daemon.process->ReadStderrLine(std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now()));
      if (!line.has_value()) return false;
      if (line->find(text) != std::string::npos) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  std::string chip_;
  std::unique_ptr<Subprocess> photonsim_;
};

absl::StatusCode Code(const grpc::Status& s) {
  return static_cast<absl::StatusCode>(s.error_code());
}

TEST_F(SerialE2eTest, SerialBackendShowsTheSamePhysicsAsTheInProcessChip) {
  Daemon serial, sim;
  ASSERT_NO_FATAL_FAILURE(Start(serial, "serial.textproto", "serial.sock"));
  ASSERT_NO_FATAL_FAILURE(Start(sim, "sim.textproto", "sim.sock"));

  pb::GetChipInfoRequest info_request;
  pb::ChipInfo info;
  ASSERT_TRUE(Call(serial, &pb::ChipService::Stub::GetChipInfo, info_request, info).ok());
  EXPECT_EQ(info.backend(), "serial");

  std::mt19937 rng(5);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  std::uniform_real_distribution<double> amplitude(0.2, 1.0);
  double largest_difference_ua = 0.0;
  double largest_change_ua = 0.0;  // how far the configurations move the outputs
  std::vector<double> previous;
  for (int config = 0; config < 3; ++config) {
    pb::SetInputsRequest inputs;
    pb::SetPhasesRequest phases;
    for (int k = 0; k < 8; ++k) inputs.add_amplitudes(amplitude(rng));
    for (int k = 0; k < 56; ++k) phases.add_phases_rad(phase(rng));
    pb::ReadDetectorsRequest read;
    read.set_averages(16);
    std::vector<double> readings[2];
    for (int which = 0; which < 2; ++which) {
      Daemon& daemon = which == 0 ? serial : sim;
      pb::SetInputsResponse inputs_reply;
      pb::SetPhasesResponse phases_reply;
      pb::ReadDetectorsResponse reading;
      ASSERT_TRUE(Call(daemon, &pb::ChipService::Stub::SetInputs, inputs, inputs_reply).ok());
      const grpc::Status set =
          Call(daemon, &pb::ChipService::Stub::SetPhases, phases, phases_reply);
      ASSERT_TRUE(set.ok()) << set.error_message();
      const grpc::Status got = Call(daemon, &pb::ChipService::Stub::ReadDetectors, read, reading);
      ASSERT_TRUE(got.ok()) << got.error_message();
      readings[which].assign(reading.photocurrent_ua().begin(), reading.photocurrent_ua().end());
    }
    ASSERT_EQ(readings[0].size(), 8u);
    ASSERT_EQ(readings[1].size(), 8u);
    for (int k = 0; k < 8; ++k) {
      EXPECT_NEAR(readings[0][k], readings[1][k], kToleranceUa)
          << "configuration " << config << ", output " << k;
      largest_difference_ua =
          std::max(largest_difference_ua, std::abs(readings[0][k] - readings[1][k]));
      if (!previous.empty()) {
        largest_change_ua = std::max(largest_change_ua, std::abs(readings[0][k] - previous[k]));
      }
    }
    previous = readings[0];
  }
  std::printf(
      "serial vs in-process: largest difference %.3f uA; configurations moved an output "
      "by up to %.1f uA\n",
      largest_difference_ua, largest_change_ua);
  EXPECT_GT(largest_change_ua, 20 * kToleranceUa) << "the comparison must be able to fail";
}

TEST_F(SerialE2eTest, TecIsReadAndSetOverSerialAndAnUnpluggedTecIsNamedWhileTheChipServes) {
  Daemon serial;
  ASSERT_NO_FATAL_FAILURE(Start(serial, "serial.textproto", "serial.sock"));
  pb::Temperature temperature;
  ASSERT_TRUE(
      Call(serial, &pb::ChipService::Stub::GetTemperature, pb::GetTemperatureRequest(), temperature)
          .ok());
  const double setpoint = temperature.setpoint_c();
  EXPECT_NEAR(temperature.temperature_c(), setpoint, 0.5);
  EXPECT_EQ(temperature.min_setpoint_c(), setpoint - 10);
  pb::SetTemperatureSetpointRequest warmer;
  warmer.set_setpoint_c(setpoint + 2);
  ASSERT_TRUE(
      Call(serial, &pb::ChipService::Stub::SetTemperatureSetpoint, warmer, temperature).ok());
  EXPECT_EQ(temperature.setpoint_c(), setpoint + 2);
  EXPECT_NEAR(temperature.temperature_c(), setpoint + 2, 0.5);  // photonsim holds it there
  pb::SetTemperatureSetpointRequest too_hot;
  too_hot.set_setpoint_c(setpoint + 30);
  EXPECT_EQ(
      Code(Call(serial, &pb::ChipService::Stub::SetTemperatureSetpoint, too_hot, temperature)),
      absl::StatusCode::kInvalidArgument);

  ASSERT_NO_FATAL_FAILURE(Inject("unplug tec"));
  const grpc::Status lost = Call(serial, &pb::ChipService::Stub::GetTemperature,
                                 pb::GetTemperatureRequest(), temperature);
  EXPECT_EQ(Code(lost), absl::StatusCode::kUnavailable);
  EXPECT_NE(lost.error_message().find("TEC"), std::string::npos) << lost.error_message();
  // The TEC regulates on its own: the chip stays in service.
  EXPECT_EQ(CheckHealth(serial.channel), Serving::kServing);
  pb::ReadDetectorsResponse reading;
  EXPECT_TRUE(
      Call(serial, &pb::ChipService::Stub::ReadDetectors, pb::ReadDetectorsRequest(), reading)
          .ok());
}

TEST_F(SerialE2eTest, SurvivesGarbageAnUnpluggedAdcAndSlowRepliesAndSaysSo) {
  Daemon serial;
  ASSERT_NO_FATAL_FAILURE(Start(serial, "serial.textproto", "serial.sock"));
  pb::ReadDetectorsRequest read;
  pb::ReadDetectorsResponse reading;
  pb::SetPhasesRequest phases;
  for (int k = 0; k < 56; ++k) phases.add_phases_rad(1.0);
  pb::SetPhasesResponse phases_reply;
  ASSERT_TRUE(Call(serial, &pb::ChipService::Stub::SetPhases, phases, phases_reply).ok());
  ASSERT_GT(phases_reply.total_heater_power_mw(), 0.0);

  // One garbled reply: the reading is taken again.
  ASSERT_NO_FATAL_FAILURE(Inject("garbage adc 1"));
  EXPECT_TRUE(Call(serial, &pb::ChipService::Stub::ReadDetectors, read, reading).ok());

  // The ADC disappears: UNAVAILABLE naming it, health NOT_SERVING, heaters
  // to 0 V (the heater link still works).
  ASSERT_NO_FATAL_FAILURE(Inject("unplug adc"));
  const grpc::Status lost = Call(serial, &pb::ChipService::Stub::ReadDetectors, read, reading);
  EXPECT_EQ(Code(lost), absl::StatusCode::kUnavailable);
  EXPECT_NE(lost.error_message().find("adc"), std::string::npos) << lost.error_message();
  EXPECT_EQ(CheckHealth(serial.channel), Serving::kNotServing);
  const grpc::Status refused =
      Call(serial, &pb::ChipService::Stub::SetPhases, phases, phases_reply);
  EXPECT_EQ(Code(refused), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.error_message().find("reconnects automatically"), std::string::npos)
      << refused.error_message();
  pb::GetPhasesRequest get;
  pb::GetPhasesResponse state;
  ASSERT_TRUE(Call(serial, &pb::ChipService::Stub::GetPhases, get, state).ok());
  EXPECT_EQ(state.total_heater_power_mw(), 0.0) << "heaters driven to their safe state";

  // Plugged back in (on a new pty): the daemon reconnects by itself.
  ASSERT_NO_FATAL_FAILURE(Inject("plug adc"));
  ASSERT_TRUE(AwaitLog(serial, "health SERVING")) << "no reconnection";
  EXPECT_EQ(CheckHealth(serial.channel), Serving::kServing);
  EXPECT_TRUE(Call(serial, &pb::ChipService::Stub::ReadDetectors, read, reading).ok());
  EXPECT_TRUE(Call(serial, &pb::ChipService::Stub::SetPhases, phases, phases_reply).ok());

  // Replies slower than the 200 ms timeout: DEADLINE_EXCEEDED after the
  // retries, and the daemon keeps serving (a slow instrument is not lost).
  ASSERT_NO_FATAL_FAILURE(Inject("delay adc 1000"));
  const grpc::Status slow = Call(serial, &pb::ChipService::Stub::ReadDetectors, read, reading);
  EXPECT_EQ(Code(slow), absl::StatusCode::kDeadlineExceeded) << slow.error_message();
  EXPECT_EQ(CheckHealth(serial.channel), Serving::kServing);
  ASSERT_TRUE(Call(serial, &pb::ChipService::Stub::GetPhases, get, state).ok());
}

}  // namespace
}  // namespace phc
