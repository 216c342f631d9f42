// ReconnectingTransport and LinkHealth on a fake device and a manual clock:
// a lost device fails fast, reconnection waits for its doubling backoff,
// and the health listener sees the overall state change once each way.
#include "phc/drivers/serial/reconnecting_transport.h"

#include <gtest/gtest.h>

#include <vector>

#include "phc/drivers/serial/fake_transport.h"
#include "tests/manual_clock.h"

namespace phc::drivers::serial {
namespace {

using std::chrono::milliseconds;

using phc::testing::ManualClock;

class ReconnectingTransportTest : public ::testing::Test {
 protected:
  ReconnectingTransportTest() {
    auto fake = std::make_unique<FakeTransport>(
        [](const std::string& line) { return std::vector<std::string>{"echo " + line}; });
    fake_ = fake.get();
    health_->SetListener([this](bool up, const std::string& why) { events_.push_back({up, why}); });
    transport_ = std::make_unique<ReconnectingTransport>(
        std::move(fake), "adc", health_, clock_,
        Backoff{.initial = milliseconds(100), .max = milliseconds(400)});
  }

  absl::StatusOr<std::string> RoundTrip(const std::string& line) {
    if (absl::Status s = transport_->Write(line + "\n"); !s.ok()) return s;
    return transport_->ReadLine(milliseconds(10));
  }

  struct Event {
    bool up;
    std::string why;
  };
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::shared_ptr<LinkHealth> health_ = std::make_shared<LinkHealth>();
  std::vector<Event> events_;
  FakeTransport* fake_ = nullptr;
  std::unique_ptr<ReconnectingTransport> transport_;
};

TEST_F(ReconnectingTransportTest, PassesThroughWhileTheDeviceIsThere) {
  EXPECT_EQ(*RoundTrip("READ?"), "echo READ?");
  EXPECT_TRUE(health_->AllUp());
  EXPECT_TRUE(events_.empty());
}

TEST_F(ReconnectingTransportTest, ATimeoutIsNotALostDevice) {
  EXPECT_EQ(transport_->ReadLine(milliseconds(10)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(transport_->up());
  EXPECT_TRUE(health_->AllUp());
}

TEST_F(ReconnectingTransportTest, ALostDeviceFailsFastUntilItsBackoffHasPassed) {
  fake_->Unplug();
  absl::StatusOr<std::string> lost = RoundTrip("READ?");
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(transport_->up());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_FALSE(events_[0].up);
  EXPECT_NE(events_[0].why.find("adc: lost"), std::string::npos) << events_[0].why;

  fake_->PlugIn();
  const std::size_t written = fake_->written().size();
  clock_->SleepFor(milliseconds(99));  // before the backoff: no attempt
  absl::StatusOr<std::string> early = RoundTrip("READ?");
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(early.status().message().find("next reconnection attempt in 1 ms"), std::string::npos)
      << early.status();
  EXPECT_EQ(fake_->written().size(), written) << "nothing reaches the device before the backoff";

  clock_->SleepFor(milliseconds(1));
  EXPECT_EQ(*RoundTrip("READ?"), "echo READ?");
  EXPECT_TRUE(transport_->up());
  EXPECT_EQ(health_->restorations(), 1u);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_TRUE(events_[1].up);
}

TEST_F(ReconnectingTransportTest, FailedAttemptsDoubleTheBackoffUpToItsMaximum) {
  fake_->Unplug();
  ASSERT_FALSE(RoundTrip("X").ok());
  std::vector<long> waits;
  for (int attempt = 0; attempt < 4; ++attempt) {
    clock_->SleepFor(milliseconds(1000));
    health_->Reconnect();  // what the daemon's watchdog calls
    waits.push_back(static_cast<long>(transport_->backoff().count()));
  }
  EXPECT_EQ(waits, (std::vector<long>{200, 400, 400, 400}));
  EXPECT_FALSE(health_->AllUp());
  fake_->PlugIn();
  clock_->SleepFor(milliseconds(400));
  health_->Reconnect();
  EXPECT_TRUE(health_->AllUp());
  EXPECT_EQ(transport_->backoff(), milliseconds(100)) << "reset after a success";
}

TEST(LinkHealthTest, DescribesEveryLostLinkAndNotifiesOnlyOnOverallChanges) {
  LinkHealth health;
  int notifications = 0;
  health.SetListener([&](bool, const std::string&) { ++notifications; });
  health.ReportLost("adc", absl::UnavailableError("hung up"));
  health.ReportLost("heaters", absl::UnavailableError("gone"));
  EXPECT_EQ(health.Describe(), "adc: lost (hung up); heaters: lost (gone)");
  health.ReportRestored("adc");
  EXPECT_FALSE(health.AllUp());
  health.ReportRestored("heaters");
  EXPECT_TRUE(health.AllUp());
  EXPECT_EQ(health.Describe(), "all instrument links up");
  EXPECT_EQ(notifications, 2);  // down once, up once
  EXPECT_EQ(health.restorations(), 2u);
}

}  // namespace
}  // namespace phc::drivers::serial
