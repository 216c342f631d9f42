// How long a client's ReadDetectors waits while photonicd is busy, printed
// as JSON. One daemon in process on the simulated clements16 chip; a reader
// thread calls ReadDetectors back to back (each call timed) while the main
// thread makes the daemon busy in turn with:
//   idle         nothing (the reference)
//   calibrating  a full Calibrate (default options)
//   dat          a DAT training session: in silico pretraining, then steps
//   sparse_zo    a sparse-ZO training session
// Beside the reader, a probe thread sleeps 1 ms at a time and records how
// late it wakes: the scheduler's own delay on this machine in the same
// phase, which no daemon design removes (the floor under the reads' tail).
// The daemon's own metrics, scraped before and after each phase, split the
// reads over 5 ms: how many hardware-thread tasks waited over 5 ms to start
// or ran over 5 ms, and how many ReadDetectors calls the server itself
// timed over 5 ms (from receipt to finish).
//
//   read_latency_bench [--steps N] [--transport tcp|unix]
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "photonic/v1/calibration.grpc.pb.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonic/v1/training.grpc.pb.h"
#include "tests/bench/bench_daemon.h"
#include "tests/http_client.h"

namespace {

namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

void Fail(const std::string& what) {
  std::fprintf(stderr, "read_latency_bench: %s\n", what.c_str());
  std::exit(1);
}

// Runs `sample` (which returns a duration in ms) again and again on its own
// thread; the durations go to the current phase.
class SampleLoop {
 public:
  explicit SampleLoop(std::function<double()> sample)
      : sample_(std::move(sample)), thread_([this] { Loop(); }) {}
  ~SampleLoop() {
    stop_ = true;
    thread_.join();
  }

  // Starts a new phase; returns the durations (ms) of the one before.
  std::vector<double> Switch() {
    std::lock_guard lock(mu_);
    return std::exchange(ms_, {});
  }

 private:
  void Loop() {
    while (!stop_) {
      const double ms = sample_();
      std::lock_guard lock(mu_);
      ms_.push_back(ms);
    }
  }

  std::function<double()> sample_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<double> ms_;
  std::thread thread_;
};

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One ReadDetectors on its own channel, timed.
std::function<double()> TimedRead(const std::string& address) {
  std::shared_ptr<pb::ChipService::Stub> stub =
      pb::ChipService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  return [stub] {
    grpc::ClientContext context;
    pb::ReadDetectorsResponse response;
    const auto start = Clock::now();
    const grpc::Status status = stub->ReadDetectors(&context, {}, &response);
    const double ms = MillisSince(start);
    if (!status.ok()) Fail("ReadDetectors: " + status.error_message());
    return ms;
  };
}

// Sleeps until a deadline 1 ms ahead; returns how late it woke.
double WakeLateness() {
  const auto deadline = Clock::now() + std::chrono::milliseconds(1);
  std::this_thread::sleep_until(deadline);
  return MillisSince(deadline);
}

// Counts of one Prometheus histogram series: all observations and those
// above 5 ms (the count minus the le="0.005" bucket).
struct OverFive {
  double count = 0.0;
  double over = 0.0;
  OverFive operator-(const OverFive& before) const {
    return {count - before.count, over - before.over};
  }
};

// The series of histogram `name` whose line contains every entry of `labels`
// (none for an unlabelled one) in the exposition text `metrics`.
OverFive HistogramOverFiveMs(const std::string& metrics, const std::string& name,
                             const std::vector<std::string>& labels = {}) {
  OverFive result;
  double within = 0.0;
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name) ||
        !std::all_of(labels.begin(), labels.end(),
                     [&](const std::string& l) { return line.find(l) != std::string::npos; })) {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const double value = std::stod(line.substr(space + 1));
    if (line.starts_with(name + "_count")) result.count = value;
    const std::string le = "le=\"";
    const std::size_t at = line.find(le);
    if (line.starts_with(name + "_bucket") && at != std::string::npos &&
        std::abs(std::stod(line.substr(at + le.size())) - 0.005) < 1e-9) {
      within = value;
    }
  }
  result.over = result.count - within;
  return result;
}

// What the daemon counted over 5 ms, from one scrape.
struct DaemonCounts {
  OverFive strand_wait, strand_run, read_rpc;
  DaemonCounts operator-(const DaemonCounts& before) const {
    return {strand_wait - before.strand_wait, strand_run - before.strand_run,
            read_rpc - before.read_rpc};
  }
};

DaemonCounts ScrapeDaemonCounts(const std::string& http_address) {
  const phc::testing::HttpResult got = phc::testing::HttpGet(http_address, "/metrics");
  if (got.status != 200) Fail("scraping /metrics: " + got.error);
  return {
      HistogramOverFiveMs(got.body, "photonicd_hardware_strand_wait_seconds"),
      HistogramOverFiveMs(got.body, "photonicd_hardware_strand_run_seconds"),
      HistogramOverFiveMs(got.body, "photonicd_rpc_duration_seconds",
                          {"method=\"/photonic.v1.ChipService/ReadDetectors\"", "code=\"OK\""})};
}

struct Phase {
  std::string name;
  double seconds = 0.0;
  std::vector<double> ms;
  std::vector<double> wake_late_ms;
  DaemonCounts daemon;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

std::size_t CountOver(const std::vector<double>& v, double limit) {
  return static_cast<std::size_t>(
      std::count_if(v.begin(), v.end(), [limit](double x) { return x > limit; }));
}

// Runs a session of `config` until it has done `steps` steps (or ended),
// then cancels it.
void RunSession(pb::TrainingService::Stub& training, pb::SessionConfig config, int steps) {
  pb::StartSessionRequest start;
  *start.mutable_config() = std::move(config);
  pb::SessionStatus status;
  {
    grpc::ClientContext context;
    if (grpc::Status s = training.StartSession(&context, start, &status); !s.ok()) {
      Fail("StartSession: " + s.error_message());
    }
  }
  pb::SessionRequest id;
  id.set_id(status.id());
  {
    grpc::ClientContext context;
    auto watch = training.WatchSession(&context, id);
    pb::SessionStatus update;
    while (watch->Read(&update)) {
      if (update.step() >= steps || update.state() != pb::SESSION_STATE_RUNNING) {
        context.TryCancel();
        break;
      }
    }
    watch->Finish().IgnoreError();
    std::fprintf(stderr, "session %s: step %lld, %s\n", update.algorithm().c_str(),
                 static_cast<long long>(update.step()),
                 pb::SessionState_Name(update.state()).c_str());
  }
  grpc::ClientContext context;
  training.CancelSession(&context, id, &status).IgnoreError();
}

pb::SessionConfig SessionOf(const std::string& algorithm, std::initializer_list<int> widths) {
  pb::SessionConfig c;
  for (int w : widths) c.add_widths(w);
  c.mutable_algorithm()->set_name(algorithm);
  c.set_dataset("fashion-mnist");
  c.set_train_samples(5000);
  c.set_test_samples(500);
  c.set_max_steps(100000);
  c.set_seed(1);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"photonicd read latency while busy (JSON on stdout)"};
  int steps = 100;
  std::string transport = "unix";
  app.add_option("--steps", steps, "session steps to run in each session phase")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--transport", transport)
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "unix"}));
  CLI11_PARSE(app, argc, argv);

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("phc_rlat_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "state");
  const std::filesystem::path config_path = dir / "photonicd.textproto";
  std::ofstream(config_path) << "chip_file: \"" << PHC_SOURCE_DIR
                             << "/deploy/chips/clements16.textproto\"\n"
                             << "backend: BACKEND_SIM\nsim { seed: 1 }\n"
                             << "state_dir: \"" << (dir / "state").string() << "\"\n"
                             << "http { listen_address: \"127.0.0.1:0\" }\n";
  phc::bench::BenchDaemon bench = phc::bench::StartBenchDaemon(config_path, transport, "phc_rlat");
  std::unique_ptr<phc::daemon::Daemon>* daemon = &bench.daemon;
  auto channel = grpc::CreateChannel((*daemon)->address(), grpc::InsecureChannelCredentials());
  auto calibration = pb::CalibrationService::NewStub(channel);
  auto training = pb::TrainingService::NewStub(channel);

  std::vector<Phase> phases;
  auto timed = [&](const std::string& name, SampleLoop& reader, SampleLoop& probe,
                   const auto& work) {
    reader.Switch();
    probe.Switch();
    const DaemonCounts before = ScrapeDaemonCounts(bench.daemon->http_address());
    const auto start = Clock::now();
    work();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> read_ms = reader.Switch(), wake_ms = probe.Switch();
    phases.push_back({name, seconds, std::move(read_ms), std::move(wake_ms),
                      ScrapeDaemonCounts(bench.daemon->http_address()) - before});
    std::fprintf(stderr, "%s: %.1f s\n", name.c_str(), phases.back().seconds);
  };
  {
    SampleLoop reader(TimedRead((*daemon)->address()));
    SampleLoop probe(WakeLateness);
    timed("idle", reader, probe, [] { std::this_thread::sleep_for(std::chrono::seconds(2)); });
    timed("calibrating", reader, probe, [&] {
      grpc::ClientContext context;
      auto stream = calibration->Calibrate(&context, pb::CalibrateRequest());
      pb::CalibrationProgress progress;
      while (stream->Read(&progress)) {
      }
      if (grpc::Status s = stream->Finish(); !s.ok()) Fail("Calibrate: " + s.error_message());
    });
    timed("dat", reader, probe, [&] {
      RunSession(*training, SessionOf("dat", {16, 16, 10}), steps);
    });
    timed("sparse_zo", reader, probe, [&] {
      RunSession(*training, SessionOf("sparse_zo", {16, 10}), steps);
    });
  }
  (*daemon)->Shutdown().IgnoreError();
  std::filesystem::remove_all(dir);

  std::printf("{\n  \"benchmark\": \"read_latency\",\n  \"chip\": \"clements16\",\n");
  std::printf("  \"transport\": \"%s\",\n  \"phases\": [\n", transport.c_str());
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    std::printf(
        "    {\"name\": \"%s\", \"seconds\": %.1f, \"reads\": %zu, \"p50_ms\": %.3f, "
        "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"reads_over_5ms\": %zu, \"wake_probe\": "
        "{\"wakes\": %zu, \"p99_late_ms\": %.3f, \"max_late_ms\": %.3f, \"over_5ms\": %zu}, "
        "\"daemon_over_5ms\": {\"read_rpcs\": %.0f, \"of_read_rpcs\": %.0f, \"strand_waits\": "
        "%.0f, \"strand_runs\": %.0f, \"of_strand_tasks\": %.0f}}%s\n",
        p.name.c_str(), p.seconds, p.ms.size(), Percentile(p.ms, 0.5), Percentile(p.ms, 0.99),
        Max(p.ms), CountOver(p.ms, 5.0), p.wake_late_ms.size(), Percentile(p.wake_late_ms, 0.99),
        Max(p.wake_late_ms), CountOver(p.wake_late_ms, 5.0), p.daemon.read_rpc.over,
        p.daemon.read_rpc.count, p.daemon.strand_wait.over, p.daemon.strand_run.over,
        p.daemon.strand_wait.count, i + 1 < phases.size() ? "," : "");
  }
  std::printf("  ]\n}\n");
  return 0;
}
