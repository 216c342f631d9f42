// Latency of photonicd's ChipService, printed as JSON.
//
//   rpc_latency_bench [--iterations N] [--transport tcp|unix]
//
// Starts the daemon in process on the simulated 8x8 chip (a real gRPC
// server on loopback TCP or a Unix socket) and measures, in one run:
//   ping                  GetChipInfo: a trivial RPC that never touches hardware
//   set_phases_and_read   SetPhases (all 56 phases) then ReadDetectors, two RPCs
//   query_stream          one Query stream round trip (phases + read)
//   in_daemon             the same SetPhases + ReadDetectors called on the hardware
//                         thread, no gRPC: what an in-daemon trainer pays
//   hardware_thread_hop   posting an empty task to the hardware thread and waiting
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "photonic/v1/chip.grpc.pb.h"
#include "tests/bench/bench_daemon.h"

namespace {

namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

struct Summary {
  std::string name;
  std::vector<double> micros;
};

double Percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const std::size_t index =
      std::min(values.size() - 1, static_cast<std::size_t>(q * values.size()));
  return values[index];
}

Summary Measure(const std::string& name, int iterations, const std::function<void()>& op) {
  for (int i = 0; i < std::max(50, iterations / 10); ++i) op();  // warm up
  Summary summary{name, {}};
  summary.micros.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    op();
    summary.micros.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return summary;
}

void Require(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, status.error_message().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"photonicd RPC latency benchmark (JSON on stdout)"};
  int iterations = 2000;
  std::string transport = "tcp";
  app.add_option("-n,--iterations", iterations)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--transport", transport)
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "unix"}));
  CLI11_PARSE(app, argc, argv);
  phc::bench::BenchDaemon bench = phc::bench::StartBenchDaemon(
      std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto", transport, "phc_bench");
  const phc::daemon::LoadedConfig* config = &bench.config;
  std::unique_ptr<phc::daemon::Daemon>* daemon = &bench.daemon;
  auto channel = grpc::CreateChannel((*daemon)->address(), grpc::InsecureChannelCredentials());
  auto stub = pb::ChipService::NewStub(channel);

  const int phase_count = (*daemon)->controller().phase_count();
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> phase(0.0, std::numbers::pi);
  pb::SetPhasesRequest set_request;
  for (int i = 0; i < phase_count; ++i) set_request.add_phases_rad(phase(rng));
  pb::ReadDetectorsRequest read_request;
  read_request.set_averages(1);

  std::vector<Summary> results;
  results.push_back(Measure("ping", iterations, [&] {
    grpc::ClientContext context;
    pb::ChipInfo info;
    Require(stub->GetChipInfo(&context, {}, &info), "GetChipInfo");
  }));
  results.push_back(Measure("set_phases_and_read", iterations, [&] {
    grpc::ClientContext set_context;
    pb::SetPhasesResponse set_response;
    Require(stub->SetPhases(&set_context, set_request, &set_response), "SetPhases");
    grpc::ClientContext read_context;
    pb::ReadDetectorsResponse reading;
    Require(stub->ReadDetectors(&read_context, read_request, &reading), "ReadDetectors");
  }));
  {
    grpc::ClientContext context;
    auto stream = stub->Query(&context);
    pb::QueryRequest query;
    query.mutable_phases_rad()->CopyFrom(set_request.phases_rad());
    pb::QueryResponse response;
    results.push_back(Measure("query_stream", iterations, [&] {
      if (!stream->Write(query) || !stream->Read(&response)) {
        std::fprintf(stderr, "query stream broke\n");
        std::exit(1);
      }
    }));
    stream->WritesDone();
    Require(stream->Finish(), "Query");
  }
  const std::vector<double> phases(set_request.phases_rad().begin(),
                                   set_request.phases_rad().end());
  phc::daemon::ChipController& controller = (*daemon)->controller();
  // A trainer runs on the hardware thread: the whole loop is one task.
  results.push_back(controller.RunSync([&] {
    return Measure("in_daemon", iterations, [&] {
      if (!controller.SetPhases(phases, {}).ok() || !controller.ReadDetectors(1).ok()) std::exit(1);
    });
  }));
  results.push_back(Measure("hardware_thread_hop", iterations, [&] { controller.RunSync([] {}); }));
  (*daemon)->Shutdown().IgnoreError();

  std::printf(
      "{\n  \"benchmark\": \"rpc_latency\",\n  \"chip\": \"%s\",\n  \"transport\": \"%s\",\n",
      config->chip.name().c_str(), transport.c_str());
  std::printf("  \"iterations\": %d,\n  \"results\": [\n", iterations);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("    {\"name\": \"%s\", \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f}%s\n",
                r.name.c_str(), Percentile(r.micros, 0.5), Percentile(r.micros, 0.9),
                Percentile(r.micros, 0.99), i + 1 < results.size() ? "," : "");
  }
  const double ping = Percentile(results[0].micros, 0.5);
  const double pair = Percentile(results[1].micros, 0.5);
  const double in_daemon = Percentile(results[3].micros, 0.5);
  std::printf("  ],\n  \"ratio_set_phases_and_read_to_ping_p50\": %.2f,\n", pair / ping);
  std::printf("  \"ratio_grpc_to_in_daemon_p50\": %.1f\n}\n", pair / in_daemon);
  return 0;
}
