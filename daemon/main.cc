// photonicd: the photonic chip daemon.
//
//   photonicd --config deploy/photonicd.textproto [--listen ADDRESS] [--state-dir DIR]
//
// SIGTERM or SIGINT: stop serving, drive every heater to 0 V, exit 0.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"photonicd: serves a photonic chip (simulated or real) over gRPC"};
  std::string config_path;
  std::string listen_override;
  std::string log_level_override;
  std::string state_dir_override;
  std::string http_override;
  app.add_option("-c,--config", config_path, "daemon config (protobuf text format)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("-l,--listen", listen_override,
                 "override listen_address: host:port (port 0 = any free) or unix:/path");
  app.add_option("--http-listen", http_override,
                 "override http.listen_address: serve /metrics on host:port (port 0 = any free)");
  app.add_option("--log-level", log_level_override, "override log_level");
  app.add_option("--state-dir", state_dir_override,
                 "override state_dir (where calibrations are kept)");
  CLI11_PARSE(app, argc, argv);

  // Logs go to stderr; stdout carries only the "listening on" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("photonicd"));

  absl::StatusOr<phc::daemon::LoadedConfig> config = phc::daemon::LoadConfigFile(config_path);
  if (config.ok() && !listen_override.empty()) config->daemon.set_listen_address(listen_override);
  if (config.ok() && !state_dir_override.empty()) config->daemon.set_state_dir(state_dir_override);
  if (config.ok() && !http_override.empty()) {
    config->daemon.mutable_http()->set_listen_address(http_override);
    if (absl::Status s = phc::daemon::ValidateDaemonConfig(config->daemon); !s.ok()) config = s;
  }
  if (config.ok() && !log_level_override.empty()) {
    config->daemon.set_log_level(log_level_override);
    if (absl::Status s = phc::daemon::ValidateDaemonConfig(config->daemon); !s.ok()) config = s;
  }
  if (!config.ok()) {
    std::cerr << "photonicd: " << config.status().message() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->daemon.log_level()));

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  sigaddset(&stop_signals, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<phc::daemon::Daemon>> daemon = phc::daemon::Daemon::Start(*config);
  if (!daemon.ok()) {
    std::cerr << "photonicd: " << daemon.status().message() << "\n";
    return 1;
  }
  std::cout << "photonicd: listening on " << (*daemon)->address() << std::endl;
  if (!(*daemon)->http_address().empty()) {
    std::cout << "photonicd: http on " << (*daemon)->http_address() << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received signal {} ({}), shutting down", signal_number, strsignal(signal_number));
  // A second signal while shutting down ends the process at once.
  std::thread([stop_signals] {
    int second = 0;
    sigwait(&stop_signals, &second);
    spdlog::critical("second signal {} during shutdown: exiting now", second);
    std::_Exit(3);
  }).detach();
  const absl::Status safe = (*daemon)->Shutdown();
  daemon->reset();
  return safe.ok() ? 0 : 1;
}
