// In-situ ONN training on a simulated chip with fabrication variations and
// thermal crosstalk, comparing zeroth-order methods, as JSON lines.
//
//   training_bench --chip deploy/chips/clements8.textproto --widths 8,8 --classes 8
//       --methods coordinate_zo,spsa,sparse_zo --target 0.4 --max-evals 20000
//
// Methods: coordinate_zo, gaussian_zo, spsa, sparse_zo, and
// sparse_zo_no_pruning (the ablation without power-aware pruning).
//
// Every method starts from the same chip (seed) with every heater off and
// trains through the daemon's ChipController on its hardware thread, one
// direct call per query. Reported per method: loss evaluations (function
// queries) and chip queries to first reach the target test accuracy, the
// final accuracy, the mean heater power over the steps and the energy. Then
// the in-daemon query rate against the raw simulator's, in the same run.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "daemon/chip/chip_controller.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/training_loop.h"
#include "photonsim/sim_chip.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"

namespace {

using phc::daemon::ChipController;

using Chip = phc::testing::SimBench;

Chip MakeChip(const photonic::v1::ChipDescription& description, std::uint64_t seed) {
  absl::StatusOr<Chip> chip = phc::testing::MakeSimBench(description, seed);
  if (!chip.ok()) throw std::runtime_error(chip.status().ToString());
  return *std::move(chip);
}

// Queries per second through the controller and straight on the SimChip
// (modulator write + detector read), same amplitudes, same chip; then the
// same rows as sweeps of `sweep_rows` (ControllerOracle::QueryBatch).
void MeasureQueryRates(Chip& chip, int count, int sweep_rows) {
  const int inputs = chip.controller->input_count();
  std::vector<double> amplitudes(inputs, 0.7);
  const auto t0 = std::chrono::steady_clock::now();
  chip.controller->RunSync([&] {
    phc::daemon::ControllerOracle oracle(*chip.controller, 1);
    for (int i = 0; i < count; ++i) {
      amplitudes[i % inputs] = 0.5 + 0.5 * ((i / inputs) % 2);
      if (!oracle.Query(amplitudes).ok()) std::abort();
    }
  });
  const auto t1 = std::chrono::steady_clock::now();
  const photonic::v1::ChipDescription& d = chip.controller->chip();
  std::vector<double> volts(inputs, 0.0);
  std::vector<double> current(chip.controller->output_count());
  for (int i = 0; i < count; ++i) {
    volts[i % inputs] = d.modulator().v_pi_v() * (0.2 + 0.1 * ((i / inputs) % 2));
    chip.sim->SetModulatorVoltages(volts);
    current = chip.sim->ReadPhotocurrentsA(1);
  }
  const auto t2 = std::chrono::steady_clock::now();
  std::vector<double> rows(static_cast<std::size_t>(sweep_rows) * inputs, 0.7);
  chip.controller->RunSync([&] {
    phc::daemon::ControllerOracle oracle(*chip.controller, 1);
    for (int i = 0; i < count; i += sweep_rows) {
      for (int r = 0; r < sweep_rows; ++r) {
        rows[static_cast<std::size_t>(r) * inputs + (i + r) % inputs] =
            0.5 + 0.5 * (((i + r) / inputs) % 2);
      }
      if (!oracle.QueryBatch(rows).ok()) std::abort();
    }
  });
  const auto t3 = std::chrono::steady_clock::now();
  const double daemon_s = std::chrono::duration<double>(t1 - t0).count();
  const double raw_s = std::chrono::duration<double>(t2 - t1).count();
  const double sweep_s = std::chrono::duration<double>(t3 - t2).count();
  const int swept = (count + sweep_rows - 1) / sweep_rows * sweep_rows;
  std::printf(
      "{\"query_rate\": {\"queries\": %d, \"in_daemon_per_s\": %.0f, \"raw_simulator_per_s\": "
      "%.0f, \"in_daemon_over_raw\": %.3f, \"sweep_rows\": %d, \"in_daemon_swept_per_s\": %.0f, "
      "\"swept_over_single\": %.2f}}\n",
      count, count / daemon_s, count / raw_s, raw_s / daemon_s, sweep_rows, swept / sweep_s,
      (swept / sweep_s) / (count / daemon_s));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"in-situ ZO training on a simulated chip: queries to a target accuracy, power"};
  std::string chip_path, methods = "coordinate_zo,gaussian_zo,spsa,sparse_zo",
                         dataset = "fashion-mnist";
  std::vector<int> widths = {9, 8};
  int classes = 8, batch = 32, train_samples = 2000, test_samples = 500, eval_every = 25;
  std::int64_t max_evals = 20000;
  double target = 0.6, param_sparsity = 0.6, grad_sparsity = 0.9;
  std::uint64_t seed = 1;
  int rate_queries = 20000, sweep_rows = 32;
  bool in_silico = false;
  double learning_rate = 0.0, perturbation = 0.0, budget_mw = 0.0;
  int samples_per_step = 0;
  app.add_option("--chip", chip_path, "chip description")->required()->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "simulated chip seed (and training seed)")->capture_default_str();
  app.add_option("--widths", widths, "ONN widths: features,hidden...,classes")->delimiter(',');
  app.add_option("--classes", classes, "Fashion-MNIST classes used")->capture_default_str();
  app.add_option("--dataset", dataset, "fashion-mnist or synthetic")->capture_default_str();
  app.add_option("--methods", methods, "comma-separated")->capture_default_str();
  app.add_option("--target", target, "target test accuracy")->capture_default_str();
  app.add_option("--max-evals", max_evals, "loss evaluations per method")->capture_default_str();
  app.add_option("--batch", batch, "minibatch size")->capture_default_str();
  app.add_option("--train-samples", train_samples)->capture_default_str();
  app.add_option("--test-samples", test_samples)->capture_default_str();
  app.add_option("--eval-every", eval_every, "steps between test evaluations")
      ->capture_default_str();
  app.add_option("--param-sparsity", param_sparsity)->capture_default_str();
  app.add_option("--grad-sparsity", grad_sparsity)->capture_default_str();
  app.add_option("--sweep-rows", sweep_rows, "rows per sweep in the rate comparison")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--rate-queries", rate_queries, "queries for the rate comparison")
      ->capture_default_str();
  app.add_option("--lr", learning_rate, "learning rate (sparse_zo: step); 0: default");
  app.add_option("--perturbation", perturbation, "ZO perturbation, rad; 0: default");
  app.add_option("--samples-per-step", samples_per_step, "directions/coordinates per step");
  app.add_option("--chip-budget-mw", budget_mw,
                 "replace the chip's total heater budget (0: keep), so that methods that need "
                 "more power can run and show how much");
  app.add_flag("--in-silico", in_silico, "train on the ideal model instead of the chip");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  absl::StatusOr<photonic::v1::ChipDescription> loaded =
      phc::testing::LoadChipDescription(chip_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  photonic::v1::ChipDescription description = *loaded;
  if (budget_mw > 0.0) description.set_max_total_heater_power_mw(budget_mw);
  absl::StatusOr<phc::trainers::TrainTestSplit> data = phc::trainers::LoadTrainingData(
      dataset, widths.front(), classes, train_samples, test_samples, seed);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  std::stringstream method_list(methods);
  std::string method;
  while (std::getline(method_list, method, ',')) {
    Chip chip = MakeChip(description, seed);
    ChipController& controller = *chip.controller;
    const auto wall_start = std::chrono::steady_clock::now();
    std::int64_t steps = 0;
    const std::string line = controller.RunSync([&]() -> std::string {
      phc::daemon::ControllerOracle chip_oracle(controller, 1);
      phc::trainers::ModelOracle model_oracle(description);
      phc::trainers::ChipOracle& oracle =
          in_silico ? static_cast<phc::trainers::ChipOracle&>(model_oracle) : chip_oracle;
      absl::StatusOr<phc::trainers::OnnModel> model =
          phc::trainers::OnnModel::Create(oracle.layout(), {widths, 10.0, 0});
      if (!model.ok()) return model.status().ToString();
      phc::trainers::AlgorithmConfig config{.name = method,
                                            .learning_rate = learning_rate,
                                            .perturbation_rad = perturbation,
                                            .samples_per_step = samples_per_step,
                                            .active_fraction = 1.0 - param_sparsity,
                                            .visit_fraction = 1.0 - grad_sparsity,
                                            .seed = seed};
      // The ablation: sparse ZO without power-aware pruning.
      if (method == "sparse_zo_no_pruning") {
        config.name = "sparse_zo";
        config.prune_probability = 0.0;
      }
      auto optimizer = phc::trainers::MakeOptimizer(config, *model, oracle);
      if (!optimizer.ok()) return optimizer.status().ToString();
      // Every heater off: the chip's own (fabrication) phases, least power.
      const std::vector<double> off = in_silico
                                          ? std::vector<double>(oracle.layout().phase_count, 0.0)
                                          : controller.GetPhases().phases_rad;
      std::vector<double> params;
      for (int index : model->trainable_phases()) params.push_back(off[index]);
      phc::trainers::TrainingRun run(oracle, *model, data->train, data->test, *std::move(optimizer),
                                     {.batch_size = batch,
                                      .max_steps = 1 << 30,
                                      .max_loss_evaluations = max_evals,
                                      .eval_every = eval_every,
                                      .eval_samples = test_samples,
                                      .seed = seed},
                                     off, params);
      const double initial = *run.Evaluate(data->test, test_samples);
      std::int64_t evals_at_target = -1, queries_at_target = -1;
      double best = initial, first_loss = -1.0;
      while (!run.done()) {
        absl::StatusOr<phc::trainers::TrainingProgress> p = run.Step();
        if (!p.ok()) return p.status().ToString();
        if (first_loss < 0) first_loss = p->loss;
        if (p->test_accuracy > best) best = p->test_accuracy;
        if (evals_at_target < 0 && p->test_accuracy >= target) {
          evals_at_target = p->loss_evaluations;
          queries_at_target = p->cost.queries;
        }
      }
      const phc::trainers::TrainingProgress& p = run.progress();
      steps = p.step;
      char buffer[1024];
      std::snprintf(
          buffer, sizeof buffer,
          "{\"method\": \"%s\", \"chip\": \"%s\", \"phases\": %zu, \"seed\": %llu, "
          "\"data\": \"%s\", \"target\": %.3f, \"evals_to_target\": %lld, "
          "\"queries_to_target\": %lld, \"initial_accuracy\": %.4f, \"final_accuracy\": %.4f, "
          "\"best_accuracy\": %.4f, \"loss_evaluations\": %lld, \"steps\": %lld, "
          "\"mean_heater_power_mw\": %.1f, \"final_heater_power_mw\": %.1f, "
          "\"heater_energy_mj\": %.2f, \"chip_seconds\": %.3f, \"first_loss\": %.4f, "
          "\"last_loss\": %.4f",
          method.c_str(), description.name().c_str(), model->trainable_phases().size(),
          static_cast<unsigned long long>(seed), data->source.c_str(), target,
          static_cast<long long>(evals_at_target), static_cast<long long>(queries_at_target),
          initial, p.test_accuracy, best, static_cast<long long>(p.loss_evaluations),
          static_cast<long long>(p.step), p.mean_heater_power_mw, p.heater_power_mw,
          p.cost.heater_energy_mj, p.cost.chip_seconds, first_loss, p.loss);
      return buffer;
    });
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (line.front() != '{') {
      std::fprintf(stderr, "%s: %s\n", method.c_str(), line.c_str());
      return 1;
    }
    std::printf("%s, \"wall_seconds\": %.2f, \"wall_ms_per_step\": %.3f}\n", line.c_str(), wall,
                1e3 * wall / std::max<std::int64_t>(1, steps));
    std::fflush(stdout);
  }
  Chip chip = MakeChip(description, seed);
  MeasureQueryRates(chip, rate_queries, sweep_rows);
  return 0;
}
