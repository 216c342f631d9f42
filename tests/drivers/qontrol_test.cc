// The Qontrol-compatible heater driver against an in-process fake chain of
// two 8-channel modules: every command, every device error code, retries
// on timeouts and garbage, and a device that goes away.
#include "phc/drivers/serial/qontrol.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "phc/drivers/serial/fake_transport.h"

namespace phc::drivers::serial {
namespace {

// Two Q8iv modules, 16 channels, 1 kOhm heaters; the next reply can be
// forced to a device error.
struct FakeChain {
  std::vector<double> volts = std::vector<double>(16, 0.0);
  double vmax = 12.0;
  std::optional<std::string> forced_error;

  std::vector<std::string> Answer(const std::string& line) {
    if (forced_error) {
      std::string e = *forced_error;
      forced_error.reset();
      return {e};
    }
    int ch = 0;
    if (line == "ID?") return {"Qontrol Q8iv x2 (fake)"};
    if (line == "NUPALL?") return {"0:Q8iv:8", "1:Q8iv:8", "OK"};
    if (line == "VALL?") {
      std::string all;
      for (std::size_t i = 0; i < volts.size(); ++i) {
        all += absl::StrFormat("%s%+.4f V", i ? "," : "", volts[i]);
      }
      return {all};
    }
    if (std::sscanf(line.c_str(), "I%d?", &ch) == 1) {
      if (ch < 0 || ch >= 16) return {absl::StrFormat("E12:%d", ch)};
      return {absl::StrFormat("%+.4f mA", volts[ch])};  // 1 kOhm: mA = V
    }
    if (absl::StartsWith(line, "VVEC")) {
      std::vector<std::string> parts = absl::StrSplit(line.substr(4), '=');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &ch)) return {"E11:0"};
      int k = ch;
      for (absl::string_view v : absl::StrSplit(parts[1], ',')) {
        double value = 0;
        if (k >= 16) return {absl::StrFormat("E12:%d", k)};
        if (!absl::SimpleAtod(v, &value)) return {absl::StrFormat("E11:%d", k)};
        if (value > vmax) return {absl::StrFormat("E01:%d", k)};
        volts[k++] = value;
      }
      return {"OK"};
    }
    double value = 0;
    if (std::sscanf(line.c_str(), "VMAX%d=%lf", &ch, &value) == 2) {
      vmax = value;
      return {"OK"};
    }
    if (std::sscanf(line.c_str(), "IMAX%d=%lf", &ch, &value) == 2) return {"OK"};
    if (std::sscanf(line.c_str(), "V%d=%lf", &ch, &value) == 2) {
      if (ch < 0 || ch >= 16) return {absl::StrFormat("E12:%d", ch)};
      if (value > vmax) return {absl::StrFormat("E01:%d", ch)};
      volts[ch] = value;
      return {"OK"};
    }
    return {"E10"};
  }
};

struct Rig {
  FakeChain chain;
  FakeTransport* fake = nullptr;
  FaultyTransport* faulty = nullptr;
  std::unique_ptr<QontrolHeaterDriver> driver;
};

std::unique_ptr<Rig> MakeRig() {
  auto rig = std::make_unique<Rig>();
  auto fake = std::make_unique<FakeTransport>(
      [chain = &rig->chain](const std::string& line) { return chain->Answer(line); });
  rig->fake = fake.get();
  auto faulty = std::make_unique<FaultyTransport>(std::move(fake));
  rig->faulty = faulty.get();
  auto driver = QontrolHeaterDriver::Connect(std::move(faulty));
  EXPECT_TRUE(driver.ok()) << driver.status();
  rig->driver = *std::move(driver);
  return rig;
}

TEST(QontrolTest, ConnectNumbersChannelsAcrossTheChain) {
  auto rig = MakeRig();
  EXPECT_EQ(rig->driver->channel_count(), 16);
  EXPECT_EQ(rig->driver->identity(), "Qontrol Q8iv x2 (fake)");
}

TEST(QontrolTest, ContiguousChannelsGoAsOneVectorWriteOthersOneByOne) {
  auto rig = MakeRig();
  const std::vector<int> channels = {3, 4, 5, 9, 15};
  const std::vector<double> volts = {1.25, 2.5, 0.0, 7.125, 11.9999};
  ASSERT_TRUE(rig->driver->SetVoltages(channels, volts).ok());
  const auto& sent = rig->fake->written();
  ASSERT_GE(sent.size(), 3u);
  EXPECT_EQ(sent[sent.size() - 3], "VVEC3=1.2500,2.5000,0.0000");
  EXPECT_EQ(sent[sent.size() - 2], "V9=7.1250");
  EXPECT_EQ(sent[sent.size() - 1], "V15=11.9999");
  auto read = rig->driver->ReadVoltages();
  ASSERT_TRUE(read.ok()) << read.status();
  for (std::size_t i = 0; i < channels.size(); ++i) {
    EXPECT_DOUBLE_EQ((*read)[channels[i]], volts[i]);
  }
  auto current = rig->driver->ReadCurrentMa(9);
  ASSERT_TRUE(current.ok());
  EXPECT_DOUBLE_EQ(*current, 7.125);
  EXPECT_TRUE(rig->driver->SetChannelLimits(2, 10.0, 20.0).ok());
  EXPECT_EQ(rig->fake->written().back(), "IMAX2=20.0000");
}

TEST(QontrolTest, RequestsOutsideTheDriverAreRefusedBeforeAnythingIsSent) {
  auto rig = MakeRig();
  const std::size_t before = rig->fake->written().size();
  const std::vector<int> bad_channel = {16};
  const std::vector<double> one = {1.0};
  EXPECT_EQ(rig->driver->SetVoltages(bad_channel, one).code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int> ok_channel = {1};
  for (double v : {-0.1, 12.5, std::nan("")}) {
    const std::vector<double> volts = {v};
    EXPECT_EQ(rig->driver->SetVoltages(ok_channel, volts).code(), absl::StatusCode::kOutOfRange);
  }
  EXPECT_EQ(rig->fake->written().size(), before);
}

TEST(QontrolTest, EveryDeviceErrorCodeMapsToAClearStatus) {
  const std::pair<const char*, absl::StatusCode> cases[] = {
      {"E01:4", absl::StatusCode::kOutOfRange},      {"E02:4", absl::StatusCode::kOutOfRange},
      {"E03:4", absl::StatusCode::kOutOfRange},      {"E10:4", absl::StatusCode::kInternal},
      {"E11:4", absl::StatusCode::kInvalidArgument}, {"E12:4", absl::StatusCode::kInvalidArgument},
      {"E15:4", absl::StatusCode::kUnavailable},     {"E99:4", absl::StatusCode::kUnknown},
  };
  for (const auto& [line, code] : cases) {
    auto rig = MakeRig();
    rig->chain.forced_error = line;
    const std::vector<int> channel = {4};
    const std::vector<double> volts = {1.0};
    const absl::Status s = rig->driver->SetVoltages(channel, volts);
    EXPECT_EQ(s.code(), code) << line << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "channel 4")) << s;
  }
}

TEST(QontrolTest, RetryableErrorsAndTimeoutsAreRetriedBoundedly) {
  auto rig = MakeRig();
  const std::vector<int> channel = {2};
  const std::vector<double> volts = {3.0};
  // Buffer overflow and device timeout are retried; so are lost replies and garbage.
  for (const char* e : {"E14:2", "E16:2"}) {
    rig->chain.forced_error = e;
    EXPECT_TRUE(rig->driver->SetVoltages(channel, volts).ok()) << e;
  }
  rig->faulty->Inject(Fault::kTimeout);
  rig->faulty->Inject(Fault::kGarbage);
  EXPECT_TRUE(rig->driver->SetVoltages(channel, volts).ok());
  rig->faulty->Inject(Fault::kDropReply);
  EXPECT_TRUE(rig->driver->ReadVoltages().ok());
  // Three failures in a row exhaust the default two retries.
  for (int i = 0; i < 3; ++i) rig->faulty->Inject(Fault::kTimeout);
  const absl::Status s = rig->driver->SetVoltages(channel, volts);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(absl::StrContains(s.message(), "after 3 attempts")) << s;
}

TEST(QontrolTest, AVanishedDeviceIsUnavailableUntilReopened) {
  auto rig = MakeRig();
  const std::vector<int> channel = {0};
  const std::vector<double> volts = {1.0};
  rig->faulty->Inject(Fault::kDisconnect);
  EXPECT_EQ(rig->driver->SetVoltages(channel, volts).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(rig->driver->ReadVoltages().status().code(), absl::StatusCode::kUnavailable);
  rig->fake->Unplug();
  EXPECT_FALSE(rig->faulty->Reopen().ok());
  rig->fake->PlugIn();
  ASSERT_TRUE(rig->faulty->Reopen().ok());
  EXPECT_TRUE(rig->driver->SetVoltages(channel, volts).ok());
}

TEST(QontrolParserTest, ValuesErrorsAndModules) {
  EXPECT_DOUBLE_EQ(*ParseQontrolValue("+1.2500 V", "V"), 1.25);
  EXPECT_DOUBLE_EQ(*ParseQontrolValue("-0.0036 mA", "mA"), -0.0036);
  EXPECT_DOUBLE_EQ(*ParseQontrolValue("  +0.0000 V ", "V"), 0.0);
  for (const char* bad : {"", "V", "1.25 V", "+1.25", "+1.25 mA", "+abc V", "+1.2.5 V", "+inf V",
                          "++1 V", "+1e3 V", "+ V"}) {
    EXPECT_EQ(ParseQontrolValue(bad, "V").status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  auto all = ParseQontrolValues("+1.0000 V,-2.5000 V", "V");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<double>{1.0, -2.5}));
  EXPECT_FALSE(ParseQontrolValues("+1.0000 V,", "V").ok());
  ASSERT_TRUE(ParseQontrolError("E01:7").has_value());
  EXPECT_EQ(ParseQontrolError("E01:7")->code, 1);
  EXPECT_EQ(ParseQontrolError("E01:7")->channel, 7);
  EXPECT_EQ(ParseQontrolError("E10")->code, 10);
  for (const char* bad : {"E", "E:", "Ex:1", "E01:", "E01:x", "OK", "E-1:2", "E01:-2"}) {
    EXPECT_FALSE(ParseQontrolError(bad).has_value()) << bad;
  }
  EXPECT_EQ(*ParseQontrolModule("0:Q8iv:8"), 8);
  for (const char* bad : {"0:Q8iv", "0::8", "x:Q8iv:8", "0:Q8iv:0", "0:Q8iv:999", "0:Q8iv:8:1"}) {
    EXPECT_FALSE(ParseQontrolModule(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace phc::drivers::serial
