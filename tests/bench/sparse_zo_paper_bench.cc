// Sparse ZO in the setting of Gu et al. (AAAI 2021): a model trained in
// silico (model_bench --save) is deployed onto a simulated chip made for it
// (chip-for-model, with the paper's noise model or our fabricated chip),
// measured there, then fine-tuned in situ by SZO-SCD with power-aware
// pruning, through the daemon's ChipController. Prints JSON lines: the
// deployed accuracy, test accuracy every --eval-every forwards (minibatch
// loss evaluations, the paper's "#ONN forward"), with the power of the
// active devices in the paper's units (sum of (phi - phi0) mod 2 pi, rad)
// and ours (mW), and a final line with the recovered accuracy on the whole
// --test set and the forwards to reach --target.
//
//   build/tests/bench/model_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --realisation optical --seed 1 --epochs 20 --save /tmp/mlp_s1.params
//   build/tests/bench/sparse_zo_paper_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --params /tmp/mlp_s1.params --noise paper --alpha 0.15 --s 0.1 --p 1 --forwards 100000
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "daemon/calibration/calibrator.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/in_situ_programming.h"
#include "phc/trainers/onn/model.h"
#include "phc/trainers/onn/model_network.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/training_loop.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/bench/paper_chip.h"
#include "tests/bench/saved_model.h"
#include "tests/sim_bench.h"

namespace {

namespace onn = phc::trainers::onn;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Wrap(double phase) {
  const double w = std::fmod(phase, 2.0 * std::numbers::pi);
  return w < 0.0 ? w + 2.0 * std::numbers::pi : w;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sparse ZO fine-tuning of a deployed model, in the AAAI 2021 paper's setting"};
  std::string model_path, params_path, data_dir, label, algorithm = "sparse_zo";
  std::uint64_t seed = 1;
  phc::testing::PaperChipOptions chip_options;
  double alpha = 0.15, s = 0.1, p = 1.0, step = 0.02, decay = 0.985, target = 0.0;
  std::int64_t forwards = 100000, eval_every = 5000;
  int train_limit = 0, test_limit = 0, eval_test = 1000, batch = 32, samples_per_step = 0;
  double perturbation = 0.0;
  bool calibrate = false, passive = false;
  int program_sweeps = 0, program_refinements = 20;
  app.add_option("--model", model_path)->required()->check(CLI::ExistingFile);
  app.add_option("--params", params_path, "parameters written by model_bench --save")
      ->required()
      ->check(CLI::ExistingFile);
  phc::testing::AddPaperChipOptions(app, chip_options);
  app.add_option("--seed", seed, "training seed (active mask, coordinates, minibatches)")
      ->capture_default_str();
  app.add_option("--algorithm", algorithm,
                 "sparse_zo, or a baseline on the same start: gaussian_zo (FLOPS), spsa, stp, "
                 "coordinate_zo, cocd, sparse_cocd, zo_adam (ZADAM; with --alpha and --s)")
      ->capture_default_str();
  app.add_option("--q", samples_per_step, "gaussian_zo/spsa directions per step (0: default)");
  app.add_option("--mu", perturbation, "gaussian_zo/spsa/coordinate_zo perturbation, rad");
  app.add_option("--alpha", alpha, "active fraction of mesh phases")->capture_default_str();
  app.add_option("--s", s, "fraction of active phases visited per step")->capture_default_str();
  app.add_option("--p", p, "power-aware pruning probability")->capture_default_str();
  app.add_option("--lr", step, "initial step, rad")->capture_default_str();
  app.add_option("--decay", decay, "step factor per epoch")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--forwards", forwards, "budget of minibatch loss evaluations")
      ->capture_default_str();
  app.add_option("--eval-every", eval_every, "forwards between test evaluations")
      ->capture_default_str();
  app.add_option("--eval-test", eval_test, "test images per progress evaluation")
      ->capture_default_str();
  app.add_option("--test", test_limit, "test images for the deployed and final accuracy (0: all)")
      ->capture_default_str();
  app.add_option("--train", train_limit, "training images (0: all 60,000)")->capture_default_str();
  app.add_option("--target", target, "report the forwards to reach this progress accuracy");
  app.add_option("--data", data_dir, "Fashion-MNIST directory");
  app.add_option("--label", label, "free text copied into every line");
  app.add_flag("--calibrate", calibrate,
               "calibrate the chip (RunCalibration) before deploying, as a lab would; the "
               "deployment and the fine-tuning then use the fitted phase model");
  app.add_flag("--passive", passive,
               "the paper's mixed training: the phases a sparse method does not train are "
               "trimmed (passive) devices at their deployed values, with no heater, no power "
               "and no crosstalk");
  app.add_option("--program-sweeps", program_sweeps,
                 "program the deployment in situ first (ProgramCoresInSitu) with this many "
                 "sweeps, then --program-refinements steps; fine-tuning starts from there "
                 "(0: no programming)")
      ->capture_default_str();
  app.add_option("--program-refinements", program_refinements)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (forwards < 1) {
    std::fprintf(stderr, "--forwards must be at least 1\n");
    return 2;
  }
  if (program_sweeps < 0 || program_refinements < 0) {
    std::fprintf(stderr, "--program-sweeps and --program-refinements must not be negative\n");
    return 2;
  }
  const bool sparse_method =
      algorithm == "sparse_zo" || algorithm == "sparse_cocd" || algorithm == "zo_adam";
  if (passive && (!sparse_method || calibrate || program_sweeps > 0)) {
    std::fprintf(stderr,
                 "--passive needs a sparse method (sparse_zo, sparse_cocd, zo_adam) and excludes "
                 "--calibrate and --program-sweeps: trimmed devices have no heater to calibrate "
                 "or program\n");
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  const auto fail = phc::testing::PrintFailure;
  absl::StatusOr<phc::testing::SavedModel> saved =
      phc::testing::LoadSavedModel(model_path, params_path);
  if (!saved.ok()) return fail(saved.status());
  const photonic::v1::ModelSpec* spec = &saved->spec;
  onn::Model* model = &saved->model;
  absl::StatusOr<onn::ModelData> data =
      onn::LoadModelData(*spec, data_dir, train_limit, test_limit);
  if (!data.ok()) return fail(data.status());
  const int epoch_steps = std::max(1, data->train.size() / batch);
  phc::trainers::Dataset progress_test = data->test;
  const int progress_n = std::min(eval_test, data->test.size());
  const double in_silico = onn::EvaluateAccuracy(*model, data->test);

  absl::StatusOr<phc::testing::PaperChip> made = phc::testing::MakePaperChip(*model, chip_options);
  if (!made.ok()) return fail(made.status());
  const phc::trainers::AlgorithmConfig config{.name = algorithm,
                                              .learning_rate = step,
                                              .perturbation_rad = perturbation,
                                              .samples_per_step = samples_per_step,
                                              .active_fraction = alpha,
                                              .visit_fraction = s,
                                              .prune_probability = p,
                                              .step_decay = decay,
                                              .decay_every = epoch_steps,
                                              .seed = seed};
  if (passive) {
    // The active set is the network's: a second copy of the model gives it
    // before the chip is made with the rest trimmed at the deployed values.
    absl::StatusOr<phc::testing::SavedModel> copy =
        phc::testing::LoadSavedModel(model_path, params_path);
    if (!copy.ok()) return fail(copy.status());
    onn::DeployedModelNetwork probe(std::move(copy->model), made->placement, made->layout);
    const std::vector<bool> active = phc::trainers::SparseZoActiveMask(
        phc::trainers::SparseZoOptionsFrom(config), probe.attenuator_phases());
    const std::vector<double> zeros(static_cast<std::size_t>(made->layout.phase_count), 0.0);
    const std::vector<double> deployed =
        onn::DeployedPhases(*model, made->layout, made->placement, zeros);
    onn::TrimInactivePhases(made->description, probe.trainable_phases(), active, deployed);
    absl::StatusOr<phc::testing::SimBench> remade =
        phc::testing::MakeSimBench(made->description, chip_options.chip_seed);
    if (!remade.ok()) return fail(remade.status());
    made->bench = *std::move(remade);
  }
  const photonsim::ChipLayout& layout = made->layout;
  onn::ChipPlacement* placement = &made->placement;
  phc::testing::SimBench* bench = &made->bench;
  const std::string& noise = chip_options.noise;
  const double noise_scale = chip_options.noise_scale;
  const std::uint64_t chip_seed = chip_options.chip_seed;

  char head[768];
  std::snprintf(head, sizeof head,
                "{\"benchmark\": \"sparse_zo_paper\", \"model\": \"%s\", \"noise\": \"%s\", "
                "\"noise_scale\": %g, "
                "\"label\": \"%s\", \"algorithm\": \"%s\", \"q\": %d, \"mu\": %g, "
                "\"alpha\": %g, \"s\": %g, \"p\": %g, \"lr\": %g, "
                "\"decay\": %g, \"seed\": %llu, \"chip_seed\": %llu, \"trimmed\": %d",
                spec->name().c_str(), noise.c_str(), noise_scale, label.c_str(), algorithm.c_str(),
                samples_per_step, perturbation, alpha, s, p, step, decay,
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(chip_seed),
                made->description.trimmed_phases_size());
  const auto start = Clock::now();
  const absl::Status ran = bench->controller->RunSync([&]() -> absl::Status {
    double calibration_s = 0.0;
    if (calibrate) {
      const auto t0 = Clock::now();
      absl::StatusOr<photonic::v1::PhaseCalibration> fitted =
          phc::daemon::RunCalibration(*bench->controller, {}, {}, nullptr);
      if (!fitted.ok()) return fitted.status();
      calibration_s = Seconds(t0);
    }
    phc::daemon::ControllerOracle oracle(*bench->controller, 1);
    const std::vector<double> zero_power(bench->controller->phase_model().bias_rad().begin(),
                                         bench->controller->phase_model().bias_rad().end());
    std::vector<double> deployed = onn::DeployedPhases(*model, layout, *placement, zero_power);
    if (absl::Status st = oracle.SetPhases(deployed); !st.ok()) return st;
    double programming_s = 0.0;
    if (program_sweeps > 0) {
      const auto t0 = Clock::now();
      onn::InSituProgrammingOptions options;
      options.sweeps = program_sweeps;
      options.refinements = program_refinements;
      absl::StatusOr<onn::InSituProgrammingResult> programmed =
          onn::ProgramCoresInSitu(*model, *placement, oracle, deployed, options);
      if (!programmed.ok()) return programmed.status();
      onn::ApplyReceiverCalibration(*programmed, *placement);
      deployed = programmed->phases_rad;
      programming_s = Seconds(t0);
    }
    absl::StatusOr<onn::ChipEvaluation> before =
        onn::ChipAccuracy(*model, *placement, oracle, data->test);
    if (!before.ok()) return before.status();
    std::printf(
        "%s, \"stage\": \"deployed\", \"in_silico\": %.4f, \"accuracy\": %.4f, "
        "\"test\": %d, \"heater_power_mw\": %.1f, \"calibrated\": %s, "
        "\"calibration_s\": %.1f, \"program_sweeps\": %d, \"programming_s\": %.1f}\n",
        head, in_silico, before->accuracy, data->test.size(),
        bench->controller->GetPhases().total_heater_power_mw, calibrate ? "true" : "false",
        calibration_s, program_sweeps, programming_s);
    std::fflush(stdout);

    onn::DeployedModelNetwork network(std::move(*model), *placement, layout);
    absl::StatusOr<std::unique_ptr<phc::trainers::ZoOptimizer>> optimizer =
        phc::trainers::MakeOptimizer(config, network, oracle);
    if (!optimizer.ok()) return optimizer.status();
    // The devices a method trains: sparse_zo's (and sparse_cocd's, zo_adam's) active set; the dense
    // baselines train every mesh phase (the paper counts U and V only).
    std::vector<bool> active;
    if (sparse_method) {
      active = phc::trainers::SparseZoActiveMask(phc::trainers::SparseZoOptionsFrom(config),
                                                 network.attenuator_phases());
    } else {
      for (bool attenuator : network.attenuator_phases()) active.push_back(!attenuator);
    }
    const std::vector<int>& chip_index = network.trainable_phases();
    std::vector<double> params;
    for (int index : chip_index) params.push_back(deployed[index]);
    phc::trainers::TrainingRun run(oracle, network, data->train, data->test, *std::move(optimizer),
                                   {.batch_size = batch,
                                    .max_steps = std::int64_t{1} << 40,
                                    .max_loss_evaluations = forwards,
                                    .eval_every = 0,
                                    .seed = seed},
                                   deployed, params);
    // Power of the active devices: the paper's (phi - phi0) mod 2 pi in rad,
    // and the heater power our phase model gives them, mW.
    auto active_power = [&](double& rad, double& mw) {
      rad = mw = 0.0;
      for (std::size_t i = 0; i < active.size(); ++i) {
        if (!active[i]) continue;
        const double phase = run.params()[i];
        rad += Wrap(phase - zero_power[chip_index[i]]);
        mw += oracle.PhasePowerMw(chip_index[i], phase);
      }
    };
    int active_count = 0;
    for (bool a : active) active_count += a;
    std::int64_t next_eval = 0, to_target = -1;
    double best = 0.0;
    for (;;) {
      const std::int64_t done = run.progress().loss_evaluations;
      if (done >= next_eval || run.done()) {
        absl::StatusOr<double> accuracy = run.Evaluate(progress_test, progress_n);
        if (!accuracy.ok()) return accuracy.status();
        best = std::max(best, *accuracy);
        if (target > 0.0 && to_target < 0 && *accuracy >= target) to_target = done;
        double rad = 0.0, mw = 0.0;
        active_power(rad, mw);
        std::printf(
            "%s, \"stage\": \"progress\", \"forwards\": %lld, \"step\": %lld, "
            "\"epoch\": %.3f, \"test_accuracy\": %.4f, \"test\": %d, \"loss\": %.4f, "
            "\"active_phases\": %d, \"active_power_rad\": %.1f, "
            "\"active_power_mw\": %.1f, \"heater_power_mw\": %.1f, "
            "\"wall_s\": %.1f}\n",
            head, static_cast<long long>(done), static_cast<long long>(run.progress().step),
            static_cast<double>(run.progress().step) / epoch_steps, *accuracy, progress_n,
            run.progress().loss, active_count, rad, mw,
            oracle.HeaterPowerMw(run.FullPhases(run.params())), Seconds(start));
        std::fflush(stdout);
        next_eval = done + eval_every;
      }
      if (run.done()) break;
      absl::StatusOr<phc::trainers::TrainingProgress> progress = run.Step();
      if (!progress.ok()) return progress.status();
    }
    absl::StatusOr<double> recovered = run.Evaluate(data->test, 0);
    if (!recovered.ok()) return recovered.status();
    double rad = 0.0, mw = 0.0;
    active_power(rad, mw);
    std::printf(
        "%s, \"stage\": \"final\", \"in_silico\": %.4f, \"deployed\": %.4f, "
        "\"recovered\": %.4f, \"test\": %d, \"best_progress_accuracy\": %.4f, "
        "\"forwards\": %lld, \"target\": %g, \"forwards_to_target\": %lld, "
        "\"active_phases\": %d, \"active_power_rad\": %.1f, \"active_power_mw\": %.1f, "
        "\"chip_queries\": %lld, \"wall_s\": %.1f}\n",
        head, in_silico, before->accuracy, *recovered, data->test.size(), best,
        static_cast<long long>(run.progress().loss_evaluations), target,
        static_cast<long long>(to_target), active_count, rad, mw,
        static_cast<long long>(oracle.cost().queries), Seconds(start));
    std::fflush(stdout);
    return absl::OkStatus();
  });
  if (!ran.ok()) return fail(ran);
  return 0;
}
