// What the metrics endpoint costs the hardware strand, printed as JSON.
//
//   metrics_cost_bench [--configurations N] [--rounds R] [--scrape-hz F]
//
// Starts three daemons in process on the simulated 8x8 chip: two without
// metrics, one with its /metrics port. Streams N Query configurations
// (all 56 phases and a read, lock-step as a lab script does) through each,
// in R rounds (the order rotates each round), in four settings:
//   off            the first daemon without metrics
//   off_twin       the second one: off_twin / off is the bench's own bias
//                  between two identical daemons in one process
//   on_idle        the daemon with metrics (RPC interceptor, task observer),
//                  nobody scraping
//   on_scraped     the same while a scraper GETs /metrics at F Hz
// and reports the configurations/s of each round, their medians and the
// ratios to "off". Ratios are measured in one run, on one machine.
// --unary sends each configuration as a unary SetPhases call instead (the
// gRPC interceptor sees those; Query streams report themselves).
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/http_client.h"

namespace {

namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

std::unique_ptr<phc::daemon::Daemon> StartDaemon(bool metrics) {
  absl::StatusOr<phc::daemon::LoadedConfig> config = phc::daemon::LoadConfigFile(
      std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto");
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    std::exit(1);
  }
  config->daemon.set_listen_address("127.0.0.1:0");
  if (metrics) config->daemon.mutable_http()->set_listen_address("127.0.0.1:0");
  absl::StatusOr<std::unique_ptr<phc::daemon::Daemon>> daemon = phc::daemon::Daemon::Start(*config);
  if (!daemon.ok()) {
    std::fprintf(stderr, "%s\n", daemon.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(daemon);
}

// Configurations per second of one lock-step Query stream.
double QueryRate(pb::ChipService::Stub& stub, const std::vector<pb::QueryRequest>& requests) {
  grpc::ClientContext context;
  auto stream = stub.Query(&context);
  pb::QueryResponse response;
  const auto start = Clock::now();
  for (const pb::QueryRequest& request : requests) {
    if (!stream->Write(request) || !stream->Read(&response)) break;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stream->WritesDone();
  if (grpc::Status status = stream->Finish(); !status.ok()) {
    std::fprintf(stderr, "query stream failed: %s\n", status.error_message().c_str());
    std::exit(1);
  }
  return static_cast<double>(requests.size()) / seconds;
}

// Configurations per second as unary SetPhases calls, one after another.
double UnaryRate(pb::ChipService::Stub& stub, const std::vector<pb::QueryRequest>& requests) {
  const auto start = Clock::now();
  for (const pb::QueryRequest& request : requests) {
    pb::SetPhasesRequest phases;
    *phases.mutable_phases_rad() = request.phases_rad();
    pb::SetPhasesResponse response;
    grpc::ClientContext context;
    if (grpc::Status status = stub.SetPhases(&context, phases, &response); !status.ok()) {
      std::fprintf(stderr, "SetPhases failed: %s\n", status.error_message().c_str());
      std::exit(1);
    }
  }
  return static_cast<double>(requests.size()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string JsonList(const std::vector<double>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(values[i]);
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cost of photonicd's metrics to Query throughput (JSON on stdout)"};
  int configurations = 20000;
  int rounds = 5;
  double scrape_hz = 10.0;
  bool unary = false;
  app.add_option("-n,--configurations", configurations)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-r,--rounds", rounds)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--scrape-hz", scrape_hz)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--unary", unary, "unary SetPhases calls instead of a Query stream");
  CLI11_PARSE(app, argc, argv);
  auto Rate = [unary](pb::ChipService::Stub& stub, const std::vector<pb::QueryRequest>& requests) {
    return unary ? UnaryRate(stub, requests) : QueryRate(stub, requests);
  };
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  std::unique_ptr<phc::daemon::Daemon> plain = StartDaemon(false);
  std::unique_ptr<phc::daemon::Daemon> twin = StartDaemon(false);
  std::unique_ptr<phc::daemon::Daemon> metered = StartDaemon(true);
  auto plain_stub = pb::ChipService::NewStub(
      grpc::CreateChannel(plain->address(), grpc::InsecureChannelCredentials()));
  auto twin_stub = pb::ChipService::NewStub(
      grpc::CreateChannel(twin->address(), grpc::InsecureChannelCredentials()));
  auto metered_stub = pb::ChipService::NewStub(
      grpc::CreateChannel(metered->address(), grpc::InsecureChannelCredentials()));

  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> phase(0.0, std::numbers::pi);
  std::vector<pb::QueryRequest> requests(configurations);
  for (pb::QueryRequest& request : requests) {
    for (int i = 0; i < plain->controller().phase_count(); ++i) request.add_phases_rad(phase(rng));
  }
  // Warm up both (connections, allocations).
  std::vector<pb::QueryRequest> warm(requests.begin(),
                                     requests.begin() + std::min(2000, configurations));
  Rate(*plain_stub, warm);
  Rate(*twin_stub, warm);
  Rate(*metered_stub, warm);

  std::vector<double> off, off_twin, on_idle, on_scraped;
  std::atomic<int> scrapes{0}, failed_scrapes{0};
  auto scraped = [&] {
    std::atomic<bool> stop{false};
    std::thread scraper([&] {
      const auto period = std::chrono::duration<double>(1.0 / scrape_hz);
      auto next = Clock::now();
      while (!stop.load()) {
        const phc::testing::HttpResult result =
            phc::testing::HttpGet(metered->http_address(), "/metrics");
        (result.status == 200 ? scrapes : failed_scrapes)++;
        next += std::chrono::duration_cast<Clock::duration>(period);
        std::this_thread::sleep_until(next);  // the scrape rate, not synchronisation
      }
    });
    const double rate = Rate(*metered_stub, requests);
    stop = true;
    scraper.join();
    return rate;
  };
  const std::vector<std::function<void()>> settings = {
      [&] { off.push_back(Rate(*plain_stub, requests)); },
      [&] { off_twin.push_back(Rate(*twin_stub, requests)); },
      [&] { on_idle.push_back(Rate(*metered_stub, requests)); },
      [&] { on_scraped.push_back(scraped()); },
  };
  for (int round = 0; round < rounds; ++round) {
    // A rotating order, so that drift in the machine's speed is shared.
    for (std::size_t k = 0; k < settings.size(); ++k) settings[(round + k) % settings.size()]();
  }

  const double off_median = Median(off);
  std::printf(
      "{\"bench\": \"metrics_cost\", \"rpc\": \"%s\", \"chip\": \"clements8\", \"configurations\": "
      "%d, "
      "\"rounds\": %d, \"scrape_hz\": %g,\n"
      " \"off_per_s\": %s,\n \"off_twin_per_s\": %s,\n \"on_idle_per_s\": %s,\n"
      " \"on_scraped_per_s\": %s,\n"
      " \"median_off_per_s\": %.0f, \"median_off_twin_per_s\": %.0f, "
      "\"median_on_idle_per_s\": %.0f, \"median_on_scraped_per_s\": %.0f,\n"
      " \"off_twin_over_off\": %.4f, \"on_idle_over_off\": %.4f, \"on_scraped_over_off\": %.4f,"
      " \"scrapes\": %d, \"failed_scrapes\": %d}\n",
      unary ? "unary SetPhases" : "Query stream", configurations, rounds, scrape_hz,
      JsonList(off).c_str(), JsonList(off_twin).c_str(), JsonList(on_idle).c_str(),
      JsonList(on_scraped).c_str(), off_median, Median(off_twin), Median(on_idle),
      Median(on_scraped), Median(off_twin) / off_median, Median(on_idle) / off_median,
      Median(on_scraped) / off_median, scrapes.load(), failed_scrapes.load());
  metered->Shutdown().IgnoreError();
  twin->Shutdown().IgnoreError();
  plain->Shutdown().IgnoreError();
  return 0;
}
