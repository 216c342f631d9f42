// The metrics endpoint of a daemon on the simulated chip: what /metrics
// reports must be what the chip and its RPCs did.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonic/v1/training.grpc.pb.h"
#include "tests/http_client.h"
#include "tests/small_sessions.h"

namespace phc::daemon {
namespace {

namespace pb = photonic::v1;
using testing::HttpGet;

// The value of one series (its exact name and sorted labels) in exposition
// text, or nullopt when absent.
std::optional<double> SeriesValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

class DaemonMetricsTest : public ::testing::Test {
 protected:
  void Start(const std::string& tokens = "") {
    absl::StatusOr<LoadedConfig> config =
        LoadConfigFile(std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto");
    ASSERT_TRUE(config.ok()) << config.status();
    config->daemon.set_listen_address("127.0.0.1:0");
    config->daemon.mutable_http()->set_listen_address("127.0.0.1:0");
    if (!tokens.empty()) {
      absl::StatusOr<AccessControl> access = AccessControl::FromTokensText(tokens, "test");
      ASSERT_TRUE(access.ok()) << access.status();
      config->access = *access;
    }
    absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(*config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    ASSERT_FALSE(daemon_->http_address().empty());
    stub_ = pb::ChipService::NewStub(
        grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  std::string Scrape() {
    testing::HttpResult result = HttpGet(daemon_->http_address(), "/metrics");
    EXPECT_EQ(result.status, 200) << result.error << result.body;
    EXPECT_TRUE(result.content_type.starts_with("text/plain; version=0.0.4"))
        << result.content_type;
    return result.body;
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<pb::ChipService::Stub> stub_;
};

TEST_F(DaemonMetricsTest, HeaterPowersAndRpcCountsAreTheChips) {
  Start();
  pb::SetPhasesRequest request;
  for (int i = 0; i < 56; ++i) request.add_phases_rad(0.05 * i);
  pb::SetPhasesResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->SetPhases(&context, request, &response).ok());
  ASSERT_GT(response.total_heater_power_mw(), 0.0);

  const std::string text = Scrape();
  // Doubles are written with enough digits to round-trip.
  const std::optional<double> total = SeriesValue(text, "photonicd_heater_power_total_watts");
  ASSERT_TRUE(total.has_value()) << text;
  EXPECT_NEAR(*total, response.total_heater_power_mw() * 1e-3,
              1e-12 * response.total_heater_power_mw());
  for (int ch : {0, 17, 55}) {
    const std::optional<double> power =
        SeriesValue(text, "photonicd_heater_power_watts{channel=\"" + std::to_string(ch) + "\"}");
    ASSERT_TRUE(power.has_value()) << ch;
    EXPECT_NEAR(*power, response.heater_power_mw(ch) * 1e-3, 1e-15 + 1e-12 * *power) << ch;
  }
  EXPECT_EQ(SeriesValue(text,
                        "photonicd_rpc_requests_total{code=\"OK\",method=\"/"
                        "photonic.v1.ChipService/SetPhases\"}"),
            1.0);
  EXPECT_EQ(SeriesValue(text,
                        "photonicd_rpc_duration_seconds_count{code=\"OK\",method=\"/"
                        "photonic.v1.ChipService/SetPhases\"}"),
            1.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_calibration_loaded"), 0.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_instrument_links_up"), 1.0);
}

// The simulated TEC holds the chip within its stated stability; a scrape
// reports what GetTemperature reads (setpoint exactly, temperature within
// 3 stability_k: the two reads are moments apart).
TEST_F(DaemonMetricsTest, TheChipTemperatureIsTheTecs) {
  Start();
  pb::Temperature tec;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetTemperature(&context, pb::GetTemperatureRequest(), &tec).ok());
  ASSERT_GT(tec.stability_k(), 0.0);
  const std::string text = Scrape();
  const std::optional<double> celsius = SeriesValue(text, "photonicd_chip_temperature_celsius");
  ASSERT_TRUE(celsius.has_value()) << text;
  EXPECT_NEAR(*celsius, tec.setpoint_c(), 3.0 * tec.stability_k());
  EXPECT_NEAR(*celsius, tec.temperature_c(), 6.0 * tec.stability_k());
  EXPECT_EQ(SeriesValue(text, "photonicd_tec_setpoint_celsius"), tec.setpoint_c());
  EXPECT_EQ(SeriesValue(text, "photonicd_chip_temperature_drifting"), 0.0);
}

TEST_F(DaemonMetricsTest, PowerGuardRefusalsAreCountedByReason) {
  Start();
  pb::SetPowerBudgetRequest budget;
  budget.set_max_total_heater_power_mw(1.0);
  pb::Limits limits;
  grpc::ClientContext budget_context;
  ASSERT_TRUE(stub_->SetPowerBudget(&budget_context, budget, &limits).ok());
  pb::SetPhasesRequest request;
  for (int i = 0; i < 56; ++i) request.add_phases_rad(3.0);
  pb::SetPhasesResponse response;
  grpc::ClientContext context;
  const grpc::Status refused = stub_->SetPhases(&context, request, &response);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();

  const std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "photonicd_power_guard_refusals_total{reason=\"total_power\"}"), 1.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_power_guard_refusals_total{reason=\"voltage\"}"), 0.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_heater_power_budget_watts"), 1e-3);
  EXPECT_EQ(SeriesValue(text,
                        "photonicd_rpc_requests_total{code=\"FAILED_PRECONDITION\",method="
                        "\"/photonic.v1.ChipService/SetPhases\"}"),
            1.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_heater_power_total_watts"), 0.0);  // nothing changed
}

TEST_F(DaemonMetricsTest, QueryConfigurationsAndTheLastReading) {
  Start();
  grpc::ClientContext context;
  auto stream = stub_->Query(&context);
  pb::QueryResponse last;
  for (int k = 0; k < 5; ++k) {
    pb::QueryRequest request;
    for (int i = 0; i < 8; ++i) request.add_amplitudes(i == k ? 1.0 : 0.0);
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&last));
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());

  const std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "photonicd_query_configurations_total"), 5.0);
  // The stream reports itself (no interceptor on Query: rpc_observer.h).
  EXPECT_EQ(SeriesValue(text,
                        "photonicd_rpc_requests_total{code=\"OK\",method=\"/"
                        "photonic.v1.ChipService/Query\"}"),
            1.0);
  for (int k = 0; k < 8; ++k) {
    const std::optional<double> current = SeriesValue(
        text, "photonicd_detector_photocurrent_amperes{output=\"" + std::to_string(k) + "\"}");
    ASSERT_TRUE(current.has_value()) << k;
    EXPECT_NEAR(*current, last.photocurrent_ua(k) * 1e-6, 1e-12 * std::abs(*current) + 1e-18) << k;
  }
}

TEST_F(DaemonMetricsTest, SessionsAreExportedAsTheyStand) {
  Start();
  auto training = pb::TrainingService::NewStub(
      grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  pb::StartSessionRequest start;
  *start.mutable_config() = testing::QuickSpsaSessionOn8Modes(6, 3);
  pb::SessionStatus started;
  grpc::ClientContext context;
  ASSERT_TRUE(training->StartSession(&context, start, &started).ok());
  // Watched to its end: the last status is the final one.
  pb::SessionRequest request;
  request.set_id(started.id());
  grpc::ClientContext watch_context;
  auto watch = training->WatchSession(&watch_context, request);
  pb::SessionStatus status, last;
  while (watch->Read(&status)) last = status;
  ASSERT_TRUE(watch->Finish().ok());
  ASSERT_EQ(last.state(), pb::SESSION_STATE_COMPLETED);

  const std::string text = Scrape();
  const std::string id = "{session=\"" + started.id() + "\"}";
  EXPECT_EQ(SeriesValue(text, "photonicd_session_info{algorithm=\"spsa\",session=\"" +
                                  started.id() + "\",state=\"SESSION_STATE_COMPLETED\"}"),
            1.0)
      << text;
  EXPECT_EQ(SeriesValue(text, "photonicd_session_step" + id), 6.0);
  EXPECT_EQ(SeriesValue(text, "photonicd_session_loss_evaluations_total" + id),
            static_cast<double>(last.loss_evaluations()));
  EXPECT_EQ(SeriesValue(text, "photonicd_session_chip_queries_total" + id),
            static_cast<double>(last.chip_queries()));
  EXPECT_NEAR(SeriesValue(text, "photonicd_session_loss" + id).value_or(-1), last.loss(),
              1e-12 * std::abs(last.loss()));
  EXPECT_NEAR(SeriesValue(text, "photonicd_session_test_accuracy" + id).value_or(-1),
              last.test_accuracy(), 1e-12);
  EXPECT_NEAR(SeriesValue(text, "photonicd_session_mean_heater_power_watts" + id).value_or(-1),
              last.mean_heater_power_mw() * 1e-3, 1e-15 + 1e-12 * last.mean_heater_power_mw());
}

TEST_F(DaemonMetricsTest, ABusyHardwareThreadDoesNotHoldUpAScrape) {
  Start();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocking;
  daemon_->controller().Post([released, &blocking] {
    blocking.set_value();
    released.wait();
  });
  blocking.get_future().wait();

  // No snapshot yet and none can be taken: after the cache's wait the
  // scrape gets the live metrics without the chip's.
  const std::string blocked = Scrape();
  EXPECT_EQ(SeriesValue(blocked,
                        "photonicd_info{backend=\"sim\",chip=\"clements8\",chip_instance="
                        "\"clements8.sim-seed-1\"}"),
            1.0)
      << blocked;
  EXPECT_FALSE(SeriesValue(blocked, "photonicd_heater_power_total_watts").has_value());
  // The blocker and the snapshot refresh queued behind it.
  EXPECT_EQ(SeriesValue(blocked, "photonicd_hardware_strand_queue_depth"), 2.0);
  release.set_value();

  const std::string fresh = Scrape();
  EXPECT_EQ(SeriesValue(fresh, "photonicd_heater_power_total_watts"), 0.0);
  EXPECT_LT(SeriesValue(fresh, "photonicd_metrics_snapshot_age_seconds").value_or(1e9), 1.0);
}

TEST_F(DaemonMetricsTest, TwoHundredConcurrentScrapersShareSnapshots) {
  Start();
  Scrape();
  const double tasks_before =
      SeriesValue(Scrape(), "photonicd_hardware_strand_run_seconds_count").value_or(0);
  std::vector<std::future<testing::HttpResult>> scrapers;
  for (int i = 0; i < 200; ++i) {
    scrapers.push_back(std::async(std::launch::async,
                                  [this] { return HttpGet(daemon_->http_address(), "/metrics"); }));
  }
  for (auto& scraper : scrapers) {
    const testing::HttpResult result = scraper.get();
    ASSERT_EQ(result.status, 200) << result.error;
    EXPECT_EQ(SeriesValue(result.body, "photonicd_heater_power_total_watts"), 0.0);
  }
  // A snapshot under 100 ms old is shared: far fewer hardware-thread tasks
  // than scrapers (one per 100 ms of the burst, at most).
  const double tasks_after =
      SeriesValue(Scrape(), "photonicd_hardware_strand_run_seconds_count").value_or(1e9);
  EXPECT_LT(tasks_after - tasks_before, 50.0);
}

TEST_F(DaemonMetricsTest, TokensGuardTheMetricsAsTheyGuardReads) {
  Start("reader r-token-0123456789\noperator o-token-0123456789\n");
  EXPECT_EQ(HttpGet(daemon_->http_address(), "/metrics").status, 401);
  EXPECT_EQ(HttpGet(daemon_->http_address(), "/metrics", "Bearer wrong").status, 401);
  const testing::HttpResult reader =
      HttpGet(daemon_->http_address(), "/metrics", "Bearer r-token-0123456789");
  EXPECT_EQ(reader.status, 200);
  EXPECT_NE(reader.body.find("# TYPE photonicd_heater_power_total_watts gauge"), std::string::npos);
  EXPECT_EQ(HttpGet(daemon_->http_address(), "/metrics", "Bearer o-token-0123456789").status, 200);
  EXPECT_EQ(HttpGet(daemon_->http_address(), "/nothing", "Bearer r-token-0123456789").status, 404);
}

TEST_F(DaemonMetricsTest, ABadHttpAddressStopsTheStart) {
  absl::StatusOr<LoadedConfig> config =
      LoadConfigFile(std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto");
  ASSERT_TRUE(config.ok());
  config->daemon.set_listen_address("127.0.0.1:0");
  config->daemon.mutable_http()->set_listen_address("256.1.1.1:0");
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(*config);
  ASSERT_FALSE(daemon.ok());
  EXPECT_EQ(daemon.status().code(), absl::StatusCode::kInvalidArgument) << daemon.status();
  EXPECT_NE(daemon.status().message().find("256.1.1.1"), std::string::npos);
}

}  // namespace
}  // namespace phc::daemon
