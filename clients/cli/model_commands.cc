#include "clients/cli/model_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "phc/proto/text_proto.h"
#include "photonic/v1/model.grpc.pb.h"

namespace photonctl {
namespace {

namespace pb = photonic::v1;

void PrintInfo(const pb::ModelInfo& m) {
  std::printf("model          %s%s\n", m.model_id().c_str(), m.deployed() ? " (deployed)" : "");
  std::printf("spec           %s, %s, for chip %s\n", m.spec_name().c_str(),
              m.realisation().c_str(), m.chip_name().c_str());
  std::printf("size           %u cores, %u phases, %u parameters\n", m.core_count(),
              m.phase_count(), m.parameter_count());
  std::printf("accuracy       %.4f in silico", m.in_silico_test_accuracy());
  if (m.last_chip_accuracy() >= 0) std::printf(", %.4f on the chip", m.last_chip_accuracy());
  std::printf("\n");
  if (m.programmed_residual() >= 0) {
    std::printf("programmed     in situ: residual %.4f\n", m.programmed_residual());
  }
  if (!m.persistent()) std::printf("kept           in memory only (the daemon has no state_dir)\n");
}

// Reads a ModelSpec text file; on failure prints why and returns false.
bool ReadSpec(const std::string& path, pb::ModelSpec& spec) {
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "photonctl: cannot read %s\n", path.c_str());
    return false;
  }
  std::stringstream text;
  text << file.rdbuf();
  if (absl::Status s = phc::ParseTextProto(text.str(), path, spec); !s.ok()) {
    std::fprintf(stderr, "photonctl: %s is not a ModelSpec in protobuf text format: %s\n",
                 path.c_str(), std::string(s.message()).c_str());
    return false;
  }
  return true;
}

int Train(pb::ModelService::Stub& stub, const ModelCommands& c, const Options& options) {
  pb::TrainInSilicoRequest request = c.train_request;
  request.set_model_id(c.id);
  if (!ReadSpec(c.spec_file, *request.mutable_spec())) return 2;
  grpc::ClientContext context;  // no deadline: training takes as long as it takes
  AddCredentials(context);
  auto stream = stub.TrainInSilico(&context, request);
  pb::TrainInSilicoProgress progress;
  pb::ModelInfo model;
  while (stream->Read(&progress)) {
    if (options.json) {
      PrintJson(progress);
      std::cout << "\n";
    } else if (progress.done()) {
      model = progress.model();
    } else {
      std::fprintf(stderr,
                   "epoch %u/%u  loss %.4f  train accuracy %.4f  test accuracy %.4f  %.2f s\n",
                   progress.epoch(), progress.epochs(), progress.train_loss(),
                   progress.train_accuracy(), progress.test_accuracy(), progress.seconds());
    }
  }
  if (grpc::Status s = stream->Finish(); !s.ok()) return Fail(s);
  if (!options.json) PrintInfo(model);
  return 0;
}

// Reads a progress stream to its end: one JSON object per line with --json,
// a bar on a terminal, one line per message otherwise. `fraction` (0..1)
// fills the bar, `status` describes a message. Returns the last message,
// and the call's status.
template <typename Message, typename Stream>
grpc::Status ShowProgress(Stream& stream, const Options& options,
                          const std::function<double(const Message&)>& fraction,
                          const std::function<std::string(const Message&)>& status, Message& last) {
  Message progress;
  const bool bar = !options.json && isatty(STDERR_FILENO);
  while (stream.Read(&progress)) {
    last = progress;
    if (options.json) {
      PrintJson(progress);
      std::cout << "\n";
    } else if (bar) {
      const int filled = static_cast<int>(std::clamp(fraction(progress), 0.0, 1.0) * 30);
      std::fprintf(stderr, "\r[%-30s] %s   ", std::string(filled, '#').c_str(),
                   status(progress).c_str());
    } else {
      std::fprintf(stderr, "%s\n", status(progress).c_str());
    }
  }
  if (bar) std::fprintf(stderr, "\n");
  return stream.Finish();
}

int Evaluate(pb::ModelService::Stub& stub, const ModelCommands& c, const Options& options) {
  pb::EvaluateRequest request;
  request.set_model_id(c.id);
  request.set_test_limit(c.test_limit);
  request.set_averages(c.averages);
  grpc::ClientContext context;  // no deadline
  AddCredentials(context);
  auto stream = stub.Evaluate(&context, request);
  pb::EvaluateProgress last;
  const grpc::Status s = ShowProgress<pb::EvaluateProgress>(
      *stream, options,
      [](const pb::EvaluateProgress& p) {
        return p.total_samples() > 0 ? static_cast<double>(p.done_samples()) / p.total_samples()
                                     : 0.0;
      },
      [](const pb::EvaluateProgress& p) {
        char line[128];
        std::snprintf(line, sizeof line, "%u/%u samples  accuracy %.4f", p.done_samples(),
                      p.total_samples(), p.accuracy_so_far());
        return std::string(line);
      },
      last);
  if (!s.ok()) return Fail(s);
  if (!options.json) {
    std::printf("chip accuracy  %.4f on %u samples (in silico %.4f), %lld chip queries\n",
                last.accuracy(), last.done_samples(), last.in_silico_accuracy(),
                static_cast<long long>(last.queries()));
  }
  return 0;
}

int Program(pb::ModelService::Stub& stub, const ModelCommands& c, const Options& options) {
  pb::ProgramInSituRequest request;
  request.set_model_id(c.id);
  request.set_sweeps(c.sweeps);
  request.set_refinements(c.refinements);
  request.set_averages(c.averages);
  grpc::ClientContext context;  // no deadline
  AddCredentials(context);
  auto stream = stub.ProgramInSitu(&context, request);
  pb::ProgramInSituProgress last;
  const grpc::Status s = ShowProgress<pb::ProgramInSituProgress>(
      *stream, options, [](const pb::ProgramInSituProgress& p) { return p.fraction(); },
      [](const pb::ProgramInSituProgress& p) {
        char line[128];
        std::snprintf(line, sizeof line, "%u/%u steps  mean residual %.4f", p.completed(),
                      p.total(), p.mean_residual());
        return std::string(line);
      },
      last);
  if (!s.ok()) return Fail(s);
  if (!options.json) {
    std::printf("programmed %s: mean residual %.4f (was %.4f), %lld queries\n", c.id.c_str(),
                last.mean_residual(), last.initial_residual(),
                static_cast<long long>(last.queries()));
  }
  return 0;
}

}  // namespace

void AddModelCommands(CLI::App& app, ModelCommands& c) {
  c.model =
      app.add_subcommand("model", "ONN models: train in silico, deploy, program in situ, evaluate");
  c.model->require_subcommand(1);
  pb::TrainInSilicoRequest& r = c.train_request;
  c.train = c.model->add_subcommand(
      "train", "train a model in silico (operator; progress per epoch, the model at the end)");
  c.train->add_option("--id", c.id, "new model id: a-z, 0-9, _ and -")->required();
  c.train->add_option("--spec", c.spec_file, "ModelSpec text file (deploy/models/*.textproto)")
      ->required()
      ->check(CLI::ExistingFile);
  c.train->add_option_function<unsigned>(
      "--epochs", [&r](unsigned v) { r.set_epochs(v); }, "default 10");
  c.train->add_option_function<unsigned>(
      "--batch", [&r](unsigned v) { r.set_batch_size(v); }, "minibatch size (default 32)");
  c.train->add_option_function<double>(
      "--lr", [&r](double v) { r.set_learning_rate(v); }, "Adam learning rate (default 0.002)");
  c.train->add_option_function<double>(
      "--phase-noise", [&r](double v) { r.set_phase_noise_std_rad(v); },
      "Gaussian phase noise in training, rad (default 0)");
  c.train->add_option_function<std::uint64_t>(
      "--seed", [&r](std::uint64_t v) { r.set_seed(v); }, "initial parameters and shuffling");
  c.train->add_option_function<unsigned>(
      "--train-limit", [&r](unsigned v) { r.set_train_limit(v); },
      "training samples (default all)");
  c.train->add_option_function<unsigned>(
      "--test-limit", [&r](unsigned v) { r.set_test_limit(v); }, "test samples (default all)");
  c.train->add_flag_function(
      "--digital-twin", [&r](std::int64_t) { r.set_digital_twin(true); },
      "train the digital realisation (free weights; cannot be deployed)");
  c.deploy = c.model->add_subcommand(
      "deploy", "write a model's phases onto the chip's cores (operator, a write)");
  c.deploy->add_option("id", c.id, "model id")->required();
  c.program = c.model->add_subcommand(
      "program",
      "program the deployed model's cores against the chip's readings (operator, a write; "
      "calibrate first)");
  c.program->add_option("id", c.id, "model id")->required();
  c.program->add_option("--sweeps", c.sweeps, "coordinate sweeps over every phase (default 6)");
  c.program->add_option("--refinements", c.refinements,
                        "Levenberg-Marquardt steps after the sweeps (default 20)");
  c.program->add_option("--averages", c.averages, "detector averages per query (default 1)");
  c.evaluate = c.model->add_subcommand(
      "evaluate", "measure the deployed model's test accuracy on the chip (operator, a write)");
  c.evaluate->add_option("id", c.id, "model id")->required();
  c.evaluate->add_option("--test", c.test_limit, "test samples (default all)");
  c.evaluate->add_option("--averages", c.averages, "detector averages per query (default 1)");
  c.list = c.model->add_subcommand("list", "every model the daemon keeps");
  c.get = c.model->add_subcommand("get", "one model");
  c.get->add_option("id", c.id, "model id")->required();
  c.remove = c.model->add_subcommand("delete", "delete a model (not the deployed one; operator)");
  c.remove->add_option("id", c.id, "model id")->required();
}

int RunModelCommand(const ModelCommands& c, const std::shared_ptr<grpc::Channel>& channel,
                    const Options& options) {
  auto stub = pb::ModelService::NewStub(channel);
  if (*c.train) return Train(*stub, c, options);
  if (*c.program) return Program(*stub, c, options);
  if (*c.evaluate) return Evaluate(*stub, c, options);
  grpc::ClientContext context;
  AddCredentials(context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<long>(options.rpc_timeout_s * 1000)));
  if (*c.deploy) {
    pb::DeployRequest request;
    request.set_model_id(c.id);
    pb::DeployReply reply;
    if (grpc::Status s = stub->Deploy(&context, request, &reply); !s.ok()) return Fail(s);
    if (options.json) {
      PrintJson(reply);
      return 0;
    }
    std::printf("deployed %s: %u phases on circuits", c.id.c_str(), reply.phases_written());
    for (const std::uint32_t circuit : reply.circuits()) std::printf(" %u", circuit);
    std::printf("; %.1f mW in all heaters\n", reply.total_heater_power_mw());
    return 0;
  }
  if (*c.list) {
    pb::ListModelsReply reply;
    if (grpc::Status s = stub->ListModels(&context, {}, &reply); !s.ok()) return Fail(s);
    if (options.json) {
      PrintJson(reply);
      return 0;
    }
    std::printf("%-24s %-20s %-8s %6s %8s %9s %9s  %s\n", "id", "spec", "kind", "cores", "phases",
                "silico", "chip", "deployed");
    for (const pb::ModelInfo& m : reply.models()) {
      char chip[16] = "-";
      if (m.last_chip_accuracy() >= 0) {
        std::snprintf(chip, sizeof chip, "%.4f", m.last_chip_accuracy());
      }
      char deployed[64] = "";
      if (m.programmed_residual() >= 0) {
        std::snprintf(deployed, sizeof deployed, "%s, programmed in situ: residual %.4f",
                      m.deployed() ? "yes" : "no", m.programmed_residual());
      } else if (m.deployed()) {
        std::snprintf(deployed, sizeof deployed, "yes");
      }
      std::printf("%-24s %-20s %-8s %6u %8u %9.4f %9s  %s\n", m.model_id().c_str(),
                  m.spec_name().c_str(), m.realisation().c_str(), m.core_count(), m.phase_count(),
                  m.in_silico_test_accuracy(), chip, deployed);
    }
    return 0;
  }
  if (*c.get) {
    pb::GetModelRequest request;
    request.set_model_id(c.id);
    pb::ModelInfo info;
    if (grpc::Status s = stub->GetModel(&context, request, &info); !s.ok()) return Fail(s);
    if (options.json) {
      PrintJson(info);
      return 0;
    }
    PrintInfo(info);
    return 0;
  }
  pb::DeleteModelRequest request;
  request.set_model_id(c.id);
  pb::DeleteModelReply reply;
  if (grpc::Status s = stub->DeleteModel(&context, request, &reply); !s.ok()) return Fail(s);
  if (!options.json) std::printf("deleted %s\n", c.id.c_str());
  if (options.json) PrintJson(reply);
  return 0;
}

}  // namespace photonctl
