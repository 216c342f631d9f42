// SCPI ADC and TEC drivers against in-process fake instruments: reads,
// averaging, the error queue drained after settings, limits.
#include "phc/drivers/serial/scpi.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "phc/drivers/serial/fake_transport.h"

namespace phc::drivers::serial {
namespace {

// A 4-channel photocurrent ADC and a TEC in one fake: errors queue up as a
// real instrument's do.
struct FakeInstrument {
  std::deque<std::string> errors;
  int reads = 0;
  double setpoint_c = 25.0;
  bool output = false;

  std::vector<std::string> Answer(const std::string& line) {
    double value = 0;
    int flag = 0;
    if (line == "*IDN?") return {"Photonics Lab,ADC4,0001,1.0"};
    if (line == "SYST:ERR?") {
      if (errors.empty()) return {"0,\"No error\""};
      std::string e = errors.front();
      errors.pop_front();
      return {e};
    }
    if (line == "READ:CURR?") {
      ++reads;
      return {absl::StrFormat("%+.6E,%+.6E,%+.6E,%+.6E", 1e-6 * reads, 2e-6, -3e-9, 0.0)};
    }
    if (line == "TEC:T?") return {absl::StrFormat("%+.3f", setpoint_c - 0.01)};
    if (std::sscanf(line.c_str(), "SENS:AVER:TIME %lf", &value) == 1) {
      if (value > 1.0) errors.push_back("-222,\"Data out of range\"");
      return {};
    }
    if (std::sscanf(line.c_str(), "TEC:LIM:TMIN %lf", &value) == 1) return {};
    if (std::sscanf(line.c_str(), "TEC:LIM:TMAX %lf", &value) == 1) return {};
    if (std::sscanf(line.c_str(), "TEC:T %lf", &value) == 1) {
      setpoint_c = value;
      return {};
    }
    if (std::sscanf(line.c_str(), "TEC:OUT %d", &flag) == 1) {
      output = flag != 0;
      if (!output) errors.push_back("-221,\"Settings conflict\"");  // a scripted refusal
      return {};
    }
    errors.push_back("-113,\"Undefined header\"");
    return {};
  }
};

std::unique_ptr<FakeTransport> Fake(FakeInstrument& instrument) {
  return std::make_unique<FakeTransport>(
      [&instrument](const std::string& line) { return instrument.Answer(line); });
}

TEST(ScpiTest, AdcCountsChannelsAndAveragesReadings) {
  FakeInstrument instrument;
  auto adc = ScpiAdcDriver::Connect(Fake(instrument), 0.001);
  ASSERT_TRUE(adc.ok()) << adc.status();
  EXPECT_EQ((*adc)->channel_count(), 4);
  EXPECT_EQ((*adc)->identity(), "Photonics Lab,ADC4,0001,1.0");
  auto currents = (*adc)->ReadCurrentsA(3);  // reads 2, 3, 4 after the one in Connect
  ASSERT_TRUE(currents.ok()) << currents.status();
  EXPECT_NEAR((*currents)[0], 3e-6, 1e-15);
  EXPECT_NEAR((*currents)[1], 2e-6, 1e-15);
  EXPECT_NEAR((*currents)[2], -3e-9, 1e-18);
}

TEST(ScpiTest, RefusedSettingsReportTheInstrumentsErrorAndDrainTheQueue) {
  FakeInstrument instrument;
  auto adc = ScpiAdcDriver::Connect(Fake(instrument), 5.0);
  ASSERT_FALSE(adc.ok());
  EXPECT_EQ(adc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(adc.status().message(), "-222")) << adc.status();
  EXPECT_TRUE(instrument.errors.empty());
}

TEST(ScpiTest, TecSetpointWithinLimitsAndOutput) {
  FakeInstrument instrument;
  auto tec = ScpiTecController::Connect(Fake(instrument), 15.0, 35.0);
  ASSERT_TRUE(tec.ok()) << tec.status();
  ASSERT_TRUE((*tec)->SetSetpointC(30.0).ok());
  EXPECT_NEAR(*(*tec)->ReadTemperatureC(), 29.99, 1e-9);
  EXPECT_EQ((*tec)->SetSetpointC(40.0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*tec)->SetSetpointC(std::nan("")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ(instrument.setpoint_c, 30.0);  // refused setpoints were never sent
  EXPECT_TRUE((*tec)->SetOutput(true).ok());
  EXPECT_TRUE(instrument.output);
  const absl::Status off = (*tec)->SetOutput(false);
  EXPECT_EQ(off.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(off.message(), "Settings conflict")) << off;
  EXPECT_FALSE(ScpiTecController::Connect(Fake(instrument), 35.0, 15.0).ok());
}

TEST(ScpiParserTest, ErrorsAndNumbers) {
  auto e = ParseScpiError("-222,\"Data out of range\"");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, -222);
  EXPECT_EQ(e->message, "Data out of range");
  EXPECT_EQ(ParseScpiError("0,\"No error\"")->code, 0);
  for (const char* bad :
       {"", ",\"x\"", "-222", "-222,x", "abc,\"x\"", "-222,\"x", "12345678,\"x\""}) {
    EXPECT_FALSE(ParseScpiError(bad).ok()) << bad;
  }
  auto n = ParseScpiNumbers("+1.500000E-06, -2.5,3,+0");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, (std::vector<double>{1.5e-6, -2.5, 3.0, 0.0}));
  for (const char* bad : {"", ",", "1,,2", "1e", "nan", "inf", "1.0x", "--1"}) {
    EXPECT_FALSE(ParseScpiNumbers(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace phc::drivers::serial
