// photonctl model train | deploy | program | evaluate | list | get | delete.
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "clients/cli/cli_common.h"
#include "photonic/v1/model.pb.h"

namespace photonctl {

struct ModelCommands {
  CLI::App* model = nullptr;
  CLI::App* train = nullptr;
  CLI::App* deploy = nullptr;
  CLI::App* program = nullptr;
  CLI::App* evaluate = nullptr;
  CLI::App* list = nullptr;
  CLI::App* get = nullptr;
  CLI::App* remove = nullptr;
  photonic::v1::TrainInSilicoRequest train_request;  // without the spec
  std::string spec_file;
  std::string id;
  unsigned test_limit = 0;
  unsigned sweeps = 0;
  unsigned refinements = 0;
  unsigned averages = 0;
};

// Declares the subcommands on `app`; the parsed values land in `commands`.
void AddModelCommands(CLI::App& app, ModelCommands& commands);

// Runs the parsed model subcommand. Exit status as photonctl's.
int RunModelCommand(const ModelCommands& commands, const std::shared_ptr<grpc::Channel>& channel,
                    const Options& options);

}  // namespace photonctl
