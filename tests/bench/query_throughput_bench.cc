// Query throughput of photonicd, printed as JSON: configurations per second
// (every configuration sets all phases and all inputs, then reads), in one
// run against one daemon on the simulated clements8 chip.
//
//   query_throughput_bench [--configurations N] [--batch B] [--transport tcp|unix]
//                          [--python]
//
//   in_daemon        ChipController::Query in a loop on the hardware thread
//   cpp_lockstep     a Query stream, write one message, read its answer, repeat
//   cpp_pipelined    a Query stream with one configuration per message, a
//                    writer thread sending ahead while the reader reads
//   cpp_batched      as pipelined, B configurations per message (count = B)
//   python_lockstep  Debian's python3-grpcio, one message at a time (--python)
//   python_sweep     photonicd.Chip.sweep: batched and pipelined (--python)
// The Python rows run tests/bench/query_throughput.py against the same
// daemon, and are left out (with a note) where python3-grpcio is missing.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "photonic/v1/chip.grpc.pb.h"
#include "tests/bench/bench_daemon.h"

namespace {

namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

struct Workload {
  int phase_count = 0;
  int input_count = 0;
  std::vector<double> phases;      // configurations x phase_count
  std::vector<double> amplitudes;  // configurations x input_count
  int configurations = 0;
};

Workload MakeWorkload(int configurations, int phase_count, int input_count) {
  Workload w{phase_count, input_count, {}, {}, configurations};
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> phase(0.0, std::numbers::pi);
  std::uniform_real_distribution<double> amplitude(0.0, 1.0);
  w.phases.resize(static_cast<std::size_t>(configurations) * phase_count);
  w.amplitudes.resize(static_cast<std::size_t>(configurations) * input_count);
  for (double& p : w.phases) p = phase(rng);
  for (double& a : w.amplitudes) a = amplitude(rng);
  return w;
}

// Configurations [first, first + count) as one message.
pb::QueryRequest Message(const Workload& w, int first, int count) {
  pb::QueryRequest request;
  request.set_tag(static_cast<std::uint64_t>(first));
  request.set_count(static_cast<std::uint32_t>(count));
  request.mutable_phases_rad()->Add(w.phases.begin() + first * w.phase_count,
                                    w.phases.begin() + (first + count) * w.phase_count);
  request.mutable_amplitudes()->Add(w.amplitudes.begin() + first * w.input_count,
                                    w.amplitudes.begin() + (first + count) * w.input_count);
  return request;
}

void Fail(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One stream: messages of `per_message` configurations; with `pipelined`
// a writer thread sends ahead, else each answer is awaited.
double StreamRate(pb::ChipService::Stub& stub, const Workload& w, int per_message, bool pipelined) {
  std::vector<pb::QueryRequest> messages;
  for (int first = 0; first < w.configurations; first += per_message) {
    messages.push_back(Message(w, first, std::min(per_message, w.configurations - first)));
  }
  grpc::ClientContext context;
  auto stream = stub.Query(&context);
  pb::QueryResponse response;
  int answered = 0;
  const auto start = Clock::now();
  if (pipelined) {
    std::thread writer([&] {
      for (const pb::QueryRequest& m : messages) {
        if (!stream->Write(m)) return;
      }
      stream->WritesDone();
    });
    while (stream->Read(&response)) answered += static_cast<int>(response.count());
    writer.join();
  } else {
    for (const pb::QueryRequest& m : messages) {
      if (!stream->Write(m) || !stream->Read(&response)) Fail("query stream broke");
      answered += static_cast<int>(response.count());
    }
    stream->WritesDone();
  }
  const double seconds = Seconds(start);
  if (grpc::Status s = stream->Finish(); !s.ok()) Fail("Query: " + s.error_message());
  if (answered != w.configurations) Fail("query stream lost configurations");
  return w.configurations / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"photonicd Query throughput benchmark (JSON on stdout)"};
  int configurations = 20000;
  int batch = 512;
  std::string transport = "tcp";
  bool python = false;
  app.add_option("-n,--configurations", configurations)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "configurations per batched message")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--transport", transport)
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "unix"}));
  app.add_flag("--python", python, "also run the Python client against the same daemon");
  CLI11_PARSE(app, argc, argv);
  phc::bench::BenchDaemon bench = phc::bench::StartBenchDaemon(
      std::filesystem::path(PHC_SOURCE_DIR) / "deploy/photonicd.textproto", transport,
      "phc_qbench");
  const phc::daemon::LoadedConfig* config = &bench.config;
  std::unique_ptr<phc::daemon::Daemon>* daemon = &bench.daemon;
  phc::daemon::ChipController& controller = (*daemon)->controller();
  const Workload w =
      MakeWorkload(configurations, controller.phase_count(), controller.input_count());
  auto channel = grpc::CreateChannel((*daemon)->address(), grpc::InsecureChannelCredentials());
  auto stub = pb::ChipService::NewStub(channel);

  StreamRate(*stub, MakeWorkload(2000, w.phase_count, w.input_count), batch, true);  // warm up
  const double in_daemon = controller.RunSync([&] {
    const auto start = Clock::now();
    for (int i = 0; i < w.configurations; ++i) {
      const phc::daemon::QueryConfig config{
          .phases_rad = std::span(w.phases).subspan(i * w.phase_count, w.phase_count),
          .amplitudes = std::span(w.amplitudes).subspan(i * w.input_count, w.input_count),
          .averages = 1};
      if (!controller.Query(config).ok()) Fail("in-daemon query failed");
    }
    return w.configurations / Seconds(start);
  });
  const double lockstep = StreamRate(*stub, w, 1, false);
  const double pipelined = StreamRate(*stub, w, 1, true);
  const double batched = StreamRate(*stub, w, batch, true);

  std::string python_json = "null";
  if (python) {
    const std::string command =
        "PYTHONPATH=" + std::string(PHC_SOURCE_DIR) + "/clients/python:" + PHC_PYTHON_GEN +
        " /usr/bin/python3 " + PHC_SOURCE_DIR + "/tests/bench/query_throughput.py " +
        (*daemon)->address() + " " + std::to_string(configurations) + " " + std::to_string(batch);
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) Fail("cannot run python3");
    std::string out;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    const int rc = pclose(pipe);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (rc == 0 && !out.empty()) python_json = out;
  }
  (*daemon)->Shutdown().IgnoreError();

  std::printf("{\n  \"benchmark\": \"query_throughput\",\n  \"chip\": \"%s\",\n",
              config->chip.name().c_str());
  std::printf("  \"transport\": \"%s\",\n  \"configurations\": %d,\n  \"batch\": %d,\n",
              transport.c_str(), configurations, batch);
  std::printf("  \"per_configuration\": \"all %d phases + %d amplitudes, then a read\",\n",
              w.phase_count, w.input_count);
  std::printf("  \"configurations_per_s\": {\n");
  std::printf("    \"in_daemon\": %.0f,\n    \"cpp_lockstep\": %.0f,\n", in_daemon, lockstep);
  std::printf("    \"cpp_pipelined\": %.0f,\n    \"cpp_batched\": %.0f,\n", pipelined, batched);
  std::printf("    \"python\": %s\n  },\n", python_json.c_str());
  std::printf("  \"ratio_cpp_batched_to_in_daemon\": %.2f\n}\n", batched / in_daemon);
  return 0;
}
