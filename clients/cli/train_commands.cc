#include "clients/cli/train_commands.h"

#include <unistd.h>

#include <cstdio>

#include "photonic/v1/training.grpc.pb.h"

namespace photonctl {
namespace {

namespace pb = photonic::v1;

std::string StateName(pb::SessionState state) {
  std::string name = pb::SessionState_Name(state);
  const std::string prefix = "SESSION_STATE_";
  if (name.starts_with(prefix)) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

void PrintSummary(const pb::SessionStatus& s) {
  std::printf("session        %s (%s)\n", s.id().c_str(), StateName(s.state()).c_str());
  if (!s.termination_reason().empty()) {
    std::printf("ended by       %s\n", s.termination_reason().c_str());
  }
  std::printf("algorithm      %s on %d %s, data %s\n", s.algorithm().c_str(), s.trained_phases(),
              s.algorithm() == "dfa" ? "network parameters" : "phases", s.dataset_source().c_str());
  std::printf("steps          %lld of %lld\n", static_cast<long long>(s.step()),
              static_cast<long long>(s.max_steps()));
  std::printf("queries        %lld loss evaluations, %lld chip queries\n",
              static_cast<long long>(s.loss_evaluations()),
              static_cast<long long>(s.chip_queries()));
  std::printf("test accuracy  %.3f (started at %.3f)\n", s.test_accuracy(),
              s.initial_test_accuracy());
  std::printf("loss           %.4f\n", s.loss());
  std::printf("heater power   %.1f mW now, %.1f mW mean; %.2f mJ spent\n", s.heater_power_mw(),
              s.mean_heater_power_mw(), s.heater_energy_mj());
  std::printf("time           %.1f s wall, %.3f s chip\n", s.wall_seconds(), s.chip_seconds());
  if (!s.checkpoint_error().empty()) {
    std::printf("checkpoints    FAILING: %s\n", s.checkpoint_error().c_str());
  }
}

// Streams statuses: a progress bar on a terminal, a line per status
// otherwise (or JSON lines with --json); the final summary at the end.
int Watch(pb::TrainingService::Stub& stub, const std::string& id, const Options& options) {
  grpc::ClientContext context;  // no deadline: a session takes as long as it takes
  AddCredentials(context);
  pb::SessionRequest request;
  request.set_id(id);
  auto stream = stub.WatchSession(&context, request);
  pb::SessionStatus status;
  pb::SessionStatus last;
  pb::SessionStatus printed;
  printed.set_test_accuracy(-2.0);  // differs from any status: the first is printed
  const bool bar = !options.json && isatty(STDERR_FILENO);
  while (stream->Read(&status)) {
    const bool checkpoint_news = status.checkpoint_error() != last.checkpoint_error();
    last = status;
    if (options.json) {
      PrintJson(status);
      std::cout << "\n";
      continue;
    }
    if (checkpoint_news) {
      std::fprintf(stderr, "%scheckpoints %s%s\n", bar ? "\n" : "",
                   status.checkpoint_error().empty() ? "written again" : "FAILING: ",
                   status.checkpoint_error().c_str());
    }
    const double fraction =
        status.max_steps() > 0 ? static_cast<double>(status.step()) / status.max_steps() : 0.0;
    if (bar) {
      const int filled = static_cast<int>(std::min(1.0, fraction) * 30);
      std::fprintf(stderr, "\r[%-30s] step %lld  loss %.3f  acc %.3f  %.0f mW  ETA %.0f s   ",
                   std::string(filled, '#').c_str(), static_cast<long long>(status.step()),
                   status.loss(), status.test_accuracy(), status.heater_power_mw(),
                   status.eta_seconds());
    } else if (status.test_accuracy() != printed.test_accuracy() ||
               status.state() != printed.state()) {
      // Not a terminal: a line per test evaluation or state change.
      printed = status;
      std::fprintf(stderr, "step %lld loss %.4f accuracy %.3f power %.1f mW state %s\n",
                   static_cast<long long>(status.step()), status.loss(), status.test_accuracy(),
                   status.heater_power_mw(), StateName(status.state()).c_str());
    }
  }
  if (bar) std::fprintf(stderr, "\n");
  if (grpc::Status s = stream->Finish(); !s.ok()) return Fail(s);
  if (!options.json) PrintSummary(last);
  return last.state() == pb::SESSION_STATE_FAILED ? 1 : 0;
}

}  // namespace

void AddTrainCommands(CLI::App& app, TrainCommands& c) {
  c.train = app.add_subcommand("train", "on-chip training sessions");
  c.train->require_subcommand(1);
  c.start = c.train->add_subcommand("start", "start a session and watch it (--detach: don't)");
  pb::SessionConfig& config = c.config;
  CLI::Option* widths =
      c.start->add_option("--widths", c.widths, "ONN widths: features,hidden...,classes")
          ->delimiter(',');
  CLI::Option* from_model = c.start->add_option_function<std::string>(
      "--from-model", [&config](const std::string& v) { config.set_from_model(v); },
      "fine-tune the deployed model with this id (photonctl model deploy) instead of an ONN "
      "of --widths; the ZO algorithms, pat, dat, gift and ntkd");
  widths->excludes(from_model);
  from_model->excludes(widths);
  c.start->add_option_function<std::string>(
      "--algorithm", [&config](const std::string& v) { config.mutable_algorithm()->set_name(v); },
      "sparse_zo (default), coordinate_zo, gaussian_zo, spsa, stp, cocd, sparse_cocd, zo_adam, "
      "gift, dfa (direct feedback "
      "alignment of a digital network; see --feedback), or pat / dat (in silico training, "
      "then physics-aware / dual adaptive training on the chip mesh; --widths: the mesh "
      "size once per optical block, then the classes), or ntkd (NTK distillation into an "
      "optical frontend + digital backend, the backend fine-tuned on the chip; --widths: "
      "the mesh size per block, hidden units, classes)");
  c.start->add_option_function<double>(
      "--lr", [&config](double v) { config.mutable_algorithm()->set_learning_rate(v); },
      "learning rate (sparse_zo: step in rad); default per algorithm");
  c.start->add_option_function<double>(
      "--perturbation",
      [&config](double v) { config.mutable_algorithm()->set_perturbation_rad(v); },
      "ZO perturbation, rad");
  c.start->add_option_function<int>(
      "--samples-per-step",
      [&config](int v) { config.mutable_algorithm()->set_samples_per_step(v); },
      "random directions (gaussian/spsa), coordinates (coordinate_zo) or noise draws (gift) "
      "per step");
  c.start->add_option_function<double>(
      "--active-fraction",
      [&config](double v) { config.mutable_algorithm()->set_active_fraction(v); },
      "sparse_zo, sparse_cocd, zo_adam: alpha, the fraction of mesh phases trained (default "
      "0.15 with --from-model, else 0.4)");
  c.start->add_option_function<double>(
      "--visit-fraction",
      [&config](double v) { config.mutable_algorithm()->set_visit_fraction(v); },
      "sparse_zo, zo_adam: s, the fraction of active phases visited per step (default 0.1)");
  c.start->add_option_function<double>(
      "--prune-probability",
      [&config](double v) { config.mutable_algorithm()->set_prune_probability(v); },
      "sparse_zo: p, the probability a power-raising step back is pruned (default 1)");
  c.start->add_option_function<double>(
      "--step-decay", [&config](double v) { config.mutable_algorithm()->set_step_decay(v); },
      "sparse_zo: the step's factor per epoch (default 0.985 with --from-model)");
  c.start->add_option_function<double>(
      "--memory-decay", [&config](double v) { config.mutable_algorithm()->set_memory_decay(v); },
      "cocd, sparse_cocd: gamma, the stored partials' factor per step (default 0.99)");
  c.start->add_option("--param-sparsity", c.param_sparsity,
                      "sparse_zo, old name: 1 - --active-fraction");
  c.start->add_option("--grad-sparsity", c.grad_sparsity,
                      "sparse_zo, old name: 1 - --visit-fraction");
  c.start->add_flag_function(
      "--no-power-aware",
      [&config](std::int64_t) { config.mutable_algorithm()->set_disable_power_aware(true); },
      "sparse_zo, old name: --prune-probability 0");
  c.start->add_option_function<std::string>(
      "--feedback",
      [&config](const std::string& v) { config.mutable_algorithm()->set_feedback(v); },
      "dfa: digital (default), noise_model, microring (the chip's weight bank) or backprop");
  c.start->add_option_function<double>(
      "--momentum", [&config](double v) { config.mutable_algorithm()->set_momentum(v); },
      "dfa: SGD momentum (default 0.9)");
  c.start->add_option_function<int>(
      "--pretrain-epochs", [&config](int v) { config.mutable_algorithm()->set_pretrain_epochs(v); },
      "pat/dat with --widths: in silico epochs before the chip (default 20)");
  c.start->add_option_function<double>(
      "--prediction-lr",
      [&config](double v) { config.mutable_algorithm()->set_prediction_learning_rate(v); },
      "dat: learning rate of the error-prediction layers (default 0.001)");
  c.start->add_option_function<std::int64_t>(
      "--prediction-warmup",
      [&config](std::int64_t v) { config.mutable_algorithm()->set_prediction_warmup_steps(v); },
      "dat: steps before the predictions enter the forward pass (default 100; with "
      "--from-model, the backward pass, default 10)");
  c.start->add_option_function<double>(
      "--ntk-weight", [&config](double v) { config.mutable_algorithm()->set_ntk_weight(v); },
      "ntkd: weight of the NTK alignment loss (default 1)");
  c.start->add_option_function<int>(
      "--teacher-epochs", [&config](int v) { config.mutable_algorithm()->set_teacher_epochs(v); },
      "ntkd: the electronic teacher's epochs (default 5)");
  c.start->add_option_function<std::string>(
      "--teacher-model",
      [&config](const std::string& v) { config.mutable_algorithm()->set_teacher_model(v); },
      "ntkd --from-model: the stored model whose tangent kernel the backend is aligned with");
  c.start->add_option_function<std::string>(
      "--dataset", [&config](const std::string& v) { config.set_dataset(v); },
      "fashion-mnist (default) or synthetic");
  c.start->add_option_function<int>(
      "--train-samples", [&config](int v) { config.set_train_samples(v); }, "default 5000");
  c.start->add_option_function<int>(
      "--test-samples", [&config](int v) { config.set_test_samples(v); }, "default 500");
  c.start->add_option_function<int>(
      "--batch", [&config](int v) { config.set_batch_size(v); }, "minibatch size (default 32)");
  c.start->add_option_function<std::int64_t>(
      "--steps", [&config](std::int64_t v) { config.set_max_steps(v); }, "default 1000");
  c.start->add_option_function<std::int64_t>(
      "--query-budget", [&config](std::int64_t v) { config.set_max_loss_evaluations(v); },
      "stop after this many loss evaluations");
  c.start->add_option_function<double>(
      "--target", [&config](double v) { config.set_target_accuracy(v); },
      "stop at this test accuracy");
  c.start->add_option_function<double>(
      "--power-budget", [&config](double v) { config.set_power_budget_mw(v); },
      "heater power budget for the session, mW");
  c.start->add_option_function<std::uint64_t>(
      "--seed", [&config](std::uint64_t v) { config.set_seed(v); }, "training seed");
  c.start->add_option_function<int>(
      "--eval-every", [&config](int v) { config.set_eval_every(v); },
      "steps between test evaluations (default 50)");
  c.start->add_option_function<int>(
      "--first-circuit", [&config](int v) { config.set_first_circuit(v); },
      "first chip circuit the blocks use");
  c.start->add_option_function<std::string>(
      "--label", [&config](const std::string& v) { config.set_label(v); }, "free text");
  c.start->add_flag("--detach", c.detach, "print the session id and return");
  for (CLI::App** sub : {&c.watch, &c.pause, &c.resume, &c.cancel, &c.get}) {
    const char* name = sub == &c.watch    ? "watch"
                       : sub == &c.pause  ? "pause"
                       : sub == &c.resume ? "resume"
                       : sub == &c.cancel ? "cancel"
                                          : "get";
    *sub = c.train->add_subcommand(name, std::string(name) + " a session");
    (*sub)->add_option("id", c.id, "session id")->required();
  }
  c.list = c.train->add_subcommand("list", "every session the daemon knows");
}

int RunTrainCommand(const TrainCommands& c, const std::shared_ptr<grpc::Channel>& channel,
                    const Options& options) {
  auto stub = pb::TrainingService::NewStub(channel);
  auto deadline = [&](grpc::ClientContext& context) {
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<long>(options.rpc_timeout_s * 1000)));
  };
  if (*c.start) {
    if (c.widths.empty() && c.config.from_model().empty()) {
      std::fprintf(stderr, "photonctl: train start: give --widths or --from-model\n");
      return 2;
    }
    pb::StartSessionRequest request;
    *request.mutable_config() = c.config;
    request.mutable_config()->mutable_widths()->Assign(c.widths.begin(), c.widths.end());
    if (c.param_sparsity >= 0) {
      request.mutable_config()->mutable_algorithm()->set_param_sparsity(c.param_sparsity);
    }
    if (c.grad_sparsity >= 0) {
      request.mutable_config()->mutable_algorithm()->set_grad_sparsity(c.grad_sparsity);
    }
    grpc::ClientContext context;
    AddCredentials(context);
    deadline(context);
    pb::SessionStatus status;
    if (grpc::Status s = stub->StartSession(&context, request, &status); !s.ok()) return Fail(s);
    if (options.json && c.detach) {
      PrintJson(status);
      return 0;
    }
    std::fprintf(stderr, "session %s started\n", status.id().c_str());
    if (c.detach) {
      std::printf("%s\n", status.id().c_str());
      return 0;
    }
    return Watch(*stub, status.id(), options);
  }
  if (*c.watch) return Watch(*stub, c.id, options);
  if (*c.list) {
    grpc::ClientContext context;
    AddCredentials(context);
    deadline(context);
    pb::ListSessionsResponse response;
    if (grpc::Status s = stub->ListSessions(&context, {}, &response); !s.ok()) return Fail(s);
    if (options.json) {
      PrintJson(response);
      return 0;
    }
    std::printf("%-9s %-10s %-13s %10s %9s %9s %10s  %s\n", "id", "state", "algorithm", "step",
                "accuracy", "power mW", "evals", "ended by");
    for (const pb::SessionStatus& s : response.sessions()) {
      std::printf("%-9s %-10s %-13s %10lld %9.3f %9.1f %10lld  %s\n", s.id().c_str(),
                  StateName(s.state()).c_str(), s.algorithm().c_str(),
                  static_cast<long long>(s.step()), s.test_accuracy(), s.heater_power_mw(),
                  static_cast<long long>(s.loss_evaluations()), s.termination_reason().c_str());
    }
    return 0;
  }
  pb::SessionRequest request;
  request.set_id(c.id);
  grpc::ClientContext context;
  AddCredentials(context);
  deadline(context);
  pb::SessionStatus status;
  grpc::Status s = *c.pause    ? stub->PauseSession(&context, request, &status)
                   : *c.resume ? stub->ResumeSession(&context, request, &status)
                   : *c.cancel ? stub->CancelSession(&context, request, &status)
                               : stub->GetSession(&context, request, &status);
  if (!s.ok()) return Fail(s);
  if (options.json) {
    PrintJson(status);
    return 0;
  }
  PrintSummary(status);
  return 0;
}

}  // namespace photonctl
