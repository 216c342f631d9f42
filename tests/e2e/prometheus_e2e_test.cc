// End to end against a real Prometheus: the real photonicd binary serves
// /metrics on the simulated chip, /usr/bin/prometheus scrapes it, and the
// values are read back through Prometheus's query API.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "photonic/v1/chip.grpc.pb.h"
#include "subprocess.h"
#include "tests/http_client.h"

namespace phc {
namespace {

namespace pb = photonic::v1;
using testing::HttpGet;
using testing::HttpResult;
using testing::Subprocess;

constexpr char kPrometheusPath[] = "/usr/bin/prometheus";
constexpr auto kStartTimeout = std::chrono::seconds(20);
// For the whole test's polling: Prometheus's start-up and first scrapes.
constexpr auto kScrapeDeadline = std::chrono::seconds(60);
constexpr auto kPollBackoff = std::chrono::milliseconds(150);
constexpr auto kQueryTimeout = std::chrono::seconds(5);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The sample values of an instant-vector answer, in the order Prometheus
// gives its series:
//   {"status":"success","data":{"resultType":"vector","result":[
//     {"metric":{...},"value":[<ts>,"<value>"]}, ...]}}
// nullopt: not a successful vector answer, or malformed. A label value
// cannot fake `"value":[`: its quotes are escaped.
std::optional<std::vector<double>> ParseVectorValues(const std::string& body) {
  if (body.find(R"("status":"success")") == std::string::npos ||
      body.find(R"("resultType":"vector")") == std::string::npos) {
    return std::nullopt;
  }
  constexpr std::string_view kValue = R"("value":[)";
  std::vector<double> values;
  std::size_t at = body.find(kValue);
  while (at != std::string::npos) {
    const std::size_t comma = body.find(',', at + kValue.size());
    if (comma == std::string::npos || comma + 1 >= body.size() || body[comma + 1] != '"') {
      return std::nullopt;
    }
    const std::size_t close = body.find('"', comma + 2);
    if (close == std::string::npos) return std::nullopt;
    const std::string text = body.substr(comma + 2, close - (comma + 2));
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);  // also "NaN", "+Inf"
    if (text.empty() || *end != '\0') return std::nullopt;
    values.push_back(value);
    at = body.find(kValue, close);
  }
  return values;
}

// A TCP port free on 127.0.0.1 now: bound to port 0, read, closed. Another
// process could take it before Prometheus binds it; -1 on error.
int FreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPrometheusPath)) {
      GTEST_SKIP() << kPrometheusPath
                   << " not found: install the Debian package prometheus "
                      "(deploy/run-tests.sh installs it)";
    }
    char dir_template[] = "/tmp/phcpromXXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }

  void TearDown() override {
    // Prometheus first: it holds a keep-alive connection to the metrics port.
    Stop(prometheus_);
    // An open client connection would hold the daemon's shutdown for its
    // grace period.
    stub_.reset();
    channel_.reset();
    if (daemon_ != nullptr) {
      daemon_->Signal(SIGTERM);
      const testing::CommandResult result = daemon_->Wait();
      daemon_.reset();
      EXPECT_EQ(result.exit_code, 0) << result.err;
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // SIGTERM and reap; a process that was already reaped is not waited for
  // again (Wait on a reaped Subprocess would wait for any child).
  static void Stop(std::unique_ptr<Subprocess>& process) {
    if (process == nullptr) return;
    process->Signal(SIGTERM);
    process->Wait();
    process.reset();
  }

  // Starts photonicd on the shipped 8x8 Clements chip, simulated, with gRPC
  // and /metrics on free ports, and waits for both address lines.
  void StartDaemon() {
    const std::filesystem::path config = dir_ / "photonicd.textproto";
    std::ofstream(config) << "chip_file: \"" << PHC_SOURCE_DIR
                          << "/deploy/chips/clements8.textproto\"\n"
                          << "backend: BACKEND_SIM\nsim { seed: 3 }\n";
    daemon_ = std::make_unique<Subprocess>(
        std::vector<std::string>{PHOTONICD_PATH, "--config", config.string(), "--listen",
                                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0"});
    ASSERT_NO_FATAL_FAILURE(ReadDaemonAddress("photonicd: listening on ", grpc_address_));
    ASSERT_NO_FATAL_FAILURE(ReadDaemonAddress("photonicd: http on ", http_address_));
    EXPECT_NE(http_address_, "127.0.0.1:0");
    channel_ = grpc::CreateChannel(grpc_address_, grpc::InsecureChannelCredentials());
    stub_ = pb::ChipService::NewStub(channel_);
  }

  // The daemon's next stdout line, which must be `prefix` and an address.
  void ReadDaemonAddress(const std::string& prefix, std::string& address) {
    const std::optional<std::string> line = daemon_->ReadStdoutLine(kStartTimeout);
    if (!line.has_value()) {
      daemon_->Signal(SIGKILL);  // alive but silent: do not hang
      const std::string err = daemon_->Wait().err;
      daemon_.reset();
      FAIL() << "photonicd printed no \"" << prefix << "\" line: " << err;
    }
    ASSERT_TRUE(line->starts_with(prefix)) << *line;
    address = line->substr(prefix.size());
  }

  // Starts Prometheus scraping the daemon's /metrics every second.
  void StartPrometheus() {
    const int port = FreeLocalPort();
    ASSERT_GT(port, 0) << "no free local port";
    prometheus_address_ = "127.0.0.1:" + std::to_string(port);
    const std::filesystem::path config = dir_ / "prometheus.yml";
    std::ofstream(config) << "global:\n"
                          << "  scrape_interval: 1s\n"
                          << "  scrape_timeout: 1s\n"
                          << "  evaluation_interval: 1s\n"
                          << "scrape_configs:\n"
                          << "  - job_name: photonicd\n"
                          << "    static_configs:\n"
                          << "      - targets: [\"" << http_address_ << "\"]\n";
    prometheus_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kPrometheusPath, "--config.file=" + config.string(),
                                 "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                                 "--web.listen-address=" + prometheus_address_});
    deadline_ = std::chrono::steady_clock::now() + kScrapeDeadline;
  }

  // Runs the instant query until `done` holds for its values or the test's
  // deadline passes; returns the last values of a successful answer.
  std::vector<double> PollQuery(const std::string& query,
                                const std::function<bool(const std::vector<double>&)>& done) {
    std::vector<double> last;
    while (true) {
      DrainPrometheusLog();
      const HttpResult result = HttpGet(
          prometheus_address_, "/api/v1/query?query=" + UrlEncode(query), "", kQueryTimeout);
      last_answer_ = query + " -> " +
                     (result.status == 0 ? "no answer: " + result.error
                                         : std::to_string(result.status) + " " + result.body);
      if (result.status == 200) {
        if (std::optional<std::vector<double>> values = ParseVectorValues(result.body)) {
          last = std::move(*values);
          if (done(last)) return last;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline_) return last;
      std::this_thread::sleep_for(kPollBackoff);  // back-off between polls
    }
  }

  // Moves Prometheus's log lines (stderr) into prometheus_log_, so the pipe
  // never fills and the log can be shown on failure.
  void DrainPrometheusLog() {
    if (prometheus_ == nullptr) return;
    while (std::optional<std::string> line =
               prometheus_->ReadStderrLine(std::chrono::milliseconds(1))) {
      prometheus_log_ += *line + "\n";
    }
  }

  // For failure messages: the last query's answer, Prometheus's view of its
  // targets (lastError shows why a scrape failed) and the tail of its log.
  std::string Diagnostics() {
    const HttpResult targets = HttpGet(prometheus_address_, "/api/v1/targets", "", kQueryTimeout);
    DrainPrometheusLog();
    constexpr std::size_t kLogTail = 4000;
    const std::string log = prometheus_log_.size() > kLogTail
                                ? "..." + prometheus_log_.substr(prometheus_log_.size() - kLogTail)
                                : prometheus_log_;
    return "\nlast query: " + last_answer_ + "\n/api/v1/targets: " +
           (targets.status == 0 ? "no answer: " + targets.error : targets.body) +
           "\nprometheus log:\n" + log;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Subprocess> daemon_;
  std::string grpc_address_;
  std::string http_address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ChipService::Stub> stub_;
  std::unique_ptr<Subprocess> prometheus_;
  std::string prometheus_address_;
  std::chrono::steady_clock::time_point deadline_;
  std::string prometheus_log_;
  std::string last_answer_;
};

TEST_F(PrometheusE2eTest, PrometheusScrapesHeaterPowerAndRpcCounters) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // The same write twice: heater power is nonzero, the same after either
  // call, and the counter has more than one call to count.
  constexpr int kSetPhasesCalls = 2;
  double total_heater_power_mw = 0.0;
  for (int call = 0; call < kSetPhasesCalls; ++call) {
    pb::SetPhasesRequest request;
    request.add_phases_rad(1.0);
    request.add_indices(0);
    request.add_phases_rad(2.0);
    request.add_indices(7);
    pb::SetPhasesResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status = stub_->SetPhases(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    total_heater_power_mw = response.total_heater_power_mw();
  }
  ASSERT_GT(total_heater_power_mw, 0.0);
  const double total_watts = total_heater_power_mw * 1e-3;

  ASSERT_NO_FATAL_FAILURE(StartPrometheus());

  // (c) Prometheus's own verdict: the scrape succeeded.
  const std::vector<double> up = PollQuery(
      R"(up{job="photonicd"})", [](const auto& v) { return v.size() == 1 && v[0] == 1.0; });
  ASSERT_EQ(up.size(), 1u) << Diagnostics();
  EXPECT_EQ(up[0], 1.0) << Diagnostics();

  // (a) Total heater power, in watts, as the write reported it in mW.
  const std::vector<double> total =
      PollQuery("photonicd_heater_power_total_watts",
                [](const auto& v) { return v.size() == 1 && v[0] != 0.0; });
  ASSERT_EQ(total.size(), 1u) << Diagnostics();
  EXPECT_NEAR(total[0], total_watts, 1e-9 * total_watts) << Diagnostics();

  // (b) The finished SetPhases calls, counted by method and code. The
  // interceptor may count a call just after the client has its response:
  // poll until the count is reached.
  const std::vector<double> calls = PollQuery(
      R"(photonicd_rpc_requests_total{method="/photonic.v1.ChipService/SetPhases",code="OK"})",
      [](const auto& v) { return v.size() == 1 && v[0] == kSetPhasesCalls; });
  ASSERT_EQ(calls.size(), 1u) << Diagnostics();
  EXPECT_EQ(calls[0], kSetPhasesCalls) << Diagnostics();

  // (d) Per-channel series exist, and sum to the total.
  const std::vector<double> channel0 = PollQuery(R"(photonicd_heater_power_watts{channel="0"})",
                                                 [](const auto& v) { return !v.empty(); });
  EXPECT_EQ(channel0.size(), 1u) << Diagnostics();
  const std::vector<double> sum = PollQuery("sum(photonicd_heater_power_watts)", [](const auto& v) {
    return v.size() == 1 && v[0] != 0.0;
  });
  ASSERT_EQ(sum.size(), 1u) << Diagnostics();
  EXPECT_NEAR(sum[0], total_watts, 1e-9 * total_watts) << Diagnostics();
}

}  // namespace
}  // namespace phc
