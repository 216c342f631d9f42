// photonctl train start | watch | pause | resume | cancel | list | get.
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "clients/cli/cli_common.h"
#include "photonic/v1/training.pb.h"

namespace photonctl {

struct TrainCommands {
  CLI::App* train = nullptr;
  CLI::App* start = nullptr;
  CLI::App* watch = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;
  CLI::App* cancel = nullptr;
  CLI::App* list = nullptr;
  CLI::App* get = nullptr;
  photonic::v1::SessionConfig config;
  std::vector<int> widths;
  std::string id;
  bool detach = false;
  double param_sparsity = -1.0;
  double grad_sparsity = -1.0;
};

// Declares the subcommands on `app`; the parsed values land in `commands`.
void AddTrainCommands(CLI::App& app, TrainCommands& commands);

// Runs the parsed train subcommand. Exit status as photonctl's.
int RunTrainCommand(const TrainCommands& commands, const std::shared_ptr<grpc::Channel>& channel,
                    const Options& options);

}  // namespace photonctl
