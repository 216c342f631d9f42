// photonicd in process for the RPC benches: started from a config file,
// listening on loopback TCP or on a Unix socket in the temp directory. A
// failure to start ends the bench with the reason on stderr (stdout carries
// the JSON, so the logs go to stderr too).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace phc::bench {

struct BenchDaemon {
  daemon::LoadedConfig config;
  std::unique_ptr<daemon::Daemon> daemon;
};

// transport: "tcp" or "unix"; `name` names the socket (with the pid).
inline BenchDaemon StartBenchDaemon(const std::filesystem::path& config_path,
                                    const std::string& transport, const std::string& name) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  };
  absl::StatusOr<daemon::LoadedConfig> config = daemon::LoadConfigFile(config_path);
  if (!config.ok()) fail(config.status());
  const std::filesystem::path socket =
      std::filesystem::temp_directory_path() / (name + "_" + std::to_string(getpid()) + ".sock");
  config->daemon.set_listen_address(transport == "tcp" ? "127.0.0.1:0" : "unix:" + socket.string());
  absl::StatusOr<std::unique_ptr<daemon::Daemon>> started = daemon::Daemon::Start(*config);
  if (!started.ok()) fail(started.status());
  return {*std::move(config), *std::move(started)};
}

}  // namespace phc::bench
