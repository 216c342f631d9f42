// The dashboard's HTTP API on a daemon on the simulated chip: what it
// reports is the chip's state, readers change nothing, operators' writes
// follow the same rules as over gRPC, and a session's events stream until
// it ends.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonic/v1/dashboard.pb.h"
#include "photonic/v1/training.grpc.pb.h"
#include "tests/http_client.h"
#include "tests/small_sessions.h"

namespace phc::daemon {
namespace {

namespace pb = photonic::v1;
using testing::HttpExchangeRaw;
using testing::HttpResult;

constexpr char kReader[] = "reader-token-0123456789";
constexpr char kOperator[] = "operator-token-0123456789";

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(parsed.ok()) << json;
  return message;
}

std::size_t Occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

class WebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LoadedConfig> config =
        LoadConfigFile(std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto");
    ASSERT_TRUE(config.ok()) << config.status();
    config->daemon.set_listen_address("127.0.0.1:0");
    config->daemon.mutable_http()->set_listen_address("127.0.0.1:0");
    absl::StatusOr<AccessControl> access = AccessControl::FromTokensText(
        std::string("reader ") + kReader + "\noperator " + kOperator + "\n", "test");
    ASSERT_TRUE(access.ok()) << access.status();
    config->access = *access;
    absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(*config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    channel_ = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
  }

  HttpResult Request(const std::string& method, const std::string& path, const std::string& token,
                     const std::string& body = "", const std::string& extra_headers = "") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    request += extra_headers;
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return HttpExchangeRaw(daemon_->http_address(), request);
  }

  double BudgetMw() {
    return daemon_->controller().RunSync(
        [this] { return daemon_->controller().heater_limits().max_total_power_mw; });
  }

  void Authorize(grpc::ClientContext& context) {
    context.AddMetadata("authorization", std::string("Bearer ") + kOperator);
  }

  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(WebApiTest, ChipAndStateAreTheChips) {
  const HttpResult chip = Request("GET", "/api/chip", kReader);
  ASSERT_EQ(chip.status, 200) << chip.body;
  EXPECT_EQ(chip.content_type, "application/json");
  const auto drawn = FromJson<pb::DashboardChip>(chip.body);
  EXPECT_EQ(drawn.name(), "clements8");
  ASSERT_EQ(drawn.circuits_size(), 1);
  EXPECT_EQ(drawn.circuits(0).kind(), "mesh/clements");
  EXPECT_EQ(drawn.circuits(0).x_pitch_size(), 56);  // every heater has a place
  EXPECT_EQ(drawn.circuits(0).y_pitch_size(), 56);
  EXPECT_DOUBLE_EQ(drawn.max_channel_power_mw(), 100.0);  // (10 V)^2 / 1 kOhm

  auto stub = pb::ChipService::NewStub(channel_);
  pb::SetPhasesRequest request;
  for (int i = 0; i < 56; ++i) request.add_phases_rad(0.1 * (i % 7));
  pb::SetPhasesResponse written;
  grpc::ClientContext context;
  Authorize(context);
  ASSERT_TRUE(stub->SetPhases(&context, request, &written).ok());

  const HttpResult state = Request("GET", "/api/state", kReader);
  ASSERT_EQ(state.status, 200) << state.body;
  const auto shown = FromJson<pb::DashboardState>(state.body);
  ASSERT_EQ(shown.heater_power_mw_size(), 56);
  for (int i = 0; i < 56; ++i)
    EXPECT_DOUBLE_EQ(shown.heater_power_mw(i), written.heater_power_mw(i));
  EXPECT_DOUBLE_EQ(shown.total_heater_power_mw(), written.total_heater_power_mw());
  EXPECT_DOUBLE_EQ(shown.budget_mw(), 2500.0);
  EXPECT_TRUE(shown.links_up());
  // The simulated TEC holds the chip at its setpoint (within stability_k).
  pb::Temperature tec;
  grpc::ClientContext tec_context;
  Authorize(tec_context);
  ASSERT_TRUE(stub->GetTemperature(&tec_context, {}, &tec).ok());
  char setpoint[48];
  std::snprintf(setpoint, sizeof setpoint, "(setpoint %.3f \u00b0C)", tec.setpoint_c());
  EXPECT_NE(shown.temperature().find(setpoint), std::string::npos) << shown.temperature();
  EXPECT_NEAR(std::stod(shown.temperature()), tec.setpoint_c(), 3.0 * tec.stability_k() + 5e-4)
      << shown.temperature();
  EXPECT_EQ(shown.temperature().find("drifting"), std::string::npos);
}

TEST_F(WebApiTest, TokensAndRolesAreTheGrpcOnes) {
  EXPECT_EQ(Request("GET", "/", "").status, 200);  // the page itself is open
  const HttpResult none = Request("GET", "/api/state", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("\"code\": \"UNAUTHENTICATED\""), std::string::npos) << none.body;
  const HttpResult reader_write =
      Request("POST", "/api/power-budget", kReader, R"({"maxTotalHeaterPowerMw": 100})");
  EXPECT_EQ(reader_write.status, 403);
  EXPECT_NE(reader_write.body.find("PERMISSION_DENIED"), std::string::npos) << reader_write.body;
  EXPECT_EQ(BudgetMw(), 2500.0);  // unchanged
  EXPECT_EQ(Request("GET", "/api/power-budget", kOperator).status, 405);
  EXPECT_EQ(Request("POST", "/api/state", kOperator).status, 405);
  EXPECT_EQ(Request("GET", "/api/nothing", kReader).status, 404);
  EXPECT_EQ(Request("GET", "/nothing", kReader).status, 404);
}

TEST_F(WebApiTest, PowerBudgetWritesAreValidatedAndLeased) {
  for (const std::string bad : {"garbage", R"({"maxTotalHeaterPowerMw": -5})",
                                R"({"maxTotalHeaterPowerMw": 99999})", R"({"nothing": 1})"}) {
    const HttpResult refused = Request("POST", "/api/power-budget", kOperator, bad);
    EXPECT_TRUE(refused.status == 400 || refused.status == 409) << bad << ": " << refused.body;
    EXPECT_EQ(BudgetMw(), 2500.0) << bad;
  }
  const HttpResult set =
      Request("POST", "/api/power-budget", kOperator, R"({"maxTotalHeaterPowerMw": 1200})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_DOUBLE_EQ(FromJson<pb::Limits>(set.body).max_total_heater_power_mw(), 1200.0);
  EXPECT_EQ(BudgetMw(), 1200.0);

  // Another client takes the lease: the dashboard's write needs its id.
  auto stub = pb::ChipService::NewStub(channel_);
  pb::AcquireLeaseRequest acquire;
  acquire.set_holder("script");
  acquire.set_ttl_seconds(60);
  pb::Lease lease;
  grpc::ClientContext context;
  Authorize(context);
  ASSERT_TRUE(stub->AcquireLease(&context, acquire, &lease).ok());
  const HttpResult blocked =
      Request("POST", "/api/power-budget", kOperator, R"({"maxTotalHeaterPowerMw": 1000})");
  EXPECT_EQ(blocked.status, 409) << blocked.body;
  EXPECT_NE(blocked.body.find("script"), std::string::npos) << blocked.body;
  EXPECT_EQ(BudgetMw(), 1200.0);
  const HttpResult leased =
      Request("POST", "/api/power-budget", kOperator, R"({"maxTotalHeaterPowerMw": 1000})",
              "X-Photonicd-Lease: " + lease.lease_id() + "\r\n");
  EXPECT_EQ(leased.status, 200) << leased.body;
  EXPECT_EQ(BudgetMw(), 1000.0);
}

TEST_F(WebApiTest, SessionEventsStreamUntilTheSessionEnds) {
  auto training = pb::TrainingService::NewStub(channel_);
  pb::StartSessionRequest start;
  *start.mutable_config() = testing::QuickSpsaSessionOn8Modes(1000000, 2);
  pb::SessionStatus started;
  grpc::ClientContext context;
  Authorize(context);
  const grpc::Status status = training->StartSession(&context, start, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // A reader cannot cancel it; an operator pauses it (so that the stream
  // below starts before it ends).
  const std::string session = "/api/sessions/" + started.id();
  EXPECT_EQ(Request("POST", session + "/cancel", kReader).status, 403);
  const HttpResult paused = Request("POST", session + "/pause", kOperator);
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(FromJson<pb::SessionStatus>(paused.body).state(), pb::SESSION_STATE_PAUSED);

  // The stream: one status now, one per step, then "end" when the session
  // ends; the connection closes after it. The session is resumed once the
  // first status came, and cancelled (by an operator) after a few steps.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  const auto [host, port] = testing::SplitHostPort(daemon_->http_address());
  boost::asio::connect(socket, boost::asio::ip::tcp::resolver(io).resolve(host, port));
  boost::asio::write(socket, boost::asio::buffer("GET " + session +
                                                 "/events HTTP/1.1\r\nHost: x\r\n"
                                                 "Authorization: Bearer " +
                                                 kReader + "\r\n\r\n"));
  std::string received;
  boost::asio::read_until(socket, boost::asio::dynamic_buffer(received), "data: ");
  boost::asio::read_until(socket, boost::asio::dynamic_buffer(received), "\n\n");
  EXPECT_EQ(Request("POST", session + "/resume", kOperator).status, 200);
  while (Occurrences(received, "event: status") < 3) {
    char chunk[4096];
    received.append(chunk, socket.read_some(boost::asio::buffer(chunk)));
  }
  EXPECT_EQ(Request("POST", session + "/cancel", kOperator).status, 200);
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(received), ec);  // to the close
  ASSERT_TRUE(received.starts_with("HTTP/1.1 200 OK\r\n")) << received;
  ASSERT_NE(received.find("Content-Type: text/event-stream\r\n"), std::string::npos) << received;
  const std::string body = received.substr(received.find("\r\n\r\n") + 4);
  std::vector<pb::SessionStatus> statuses;
  bool ended = false;
  for (const std::string& frame :
       std::vector<std::string>(absl::StrSplit(body, "\n\n", absl::SkipEmpty()))) {
    if (frame.starts_with("event: end")) {
      ended = true;
      continue;
    }
    ASSERT_TRUE(frame.starts_with("event: status\ndata: ")) << frame;
    statuses.push_back(FromJson<pb::SessionStatus>(frame.substr(20)));
  }
  EXPECT_TRUE(ended);
  ASSERT_GE(statuses.size(), 2u);
  EXPECT_EQ(statuses.front().state(), pb::SESSION_STATE_PAUSED);
  for (std::size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_GE(statuses[i].step(), statuses[i - 1].step());
    EXPECT_GE(statuses[i].loss_evaluations(), statuses[i - 1].loss_evaluations());
  }
  EXPECT_GE(statuses.size(), 3u);
  EXPECT_GT(statuses.back().step(), statuses.front().step());
  EXPECT_EQ(statuses.back().state(), pb::SESSION_STATE_CANCELLED);

  EXPECT_EQ(Request("GET", "/api/sessions/nope/events", kReader).status, 404);
}

}  // namespace
}  // namespace phc::daemon
