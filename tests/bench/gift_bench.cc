// In situ methods on a deployed model under noise misspecification: a
// model trained in silico under an assumed phase noise (model_bench
// --phase-noise-std) is deployed onto a simulated chip made for it whose
// noise is stronger (the paper noise model of Gu et al. at --noise-scale,
// DAT's static errors at --sigma, or our fabricated chip's errors), through
// the daemon's ChipController. From the same deployed start it then runs
// the --methods:
//  - GIFT (onn/gift.h): the chip's noise structure measured layer by layer,
//    then --steps checked gradient steps on the expected loss under it;
//  - physics-aware training (PAT, the baseline): --steps Adam steps on the
//    gradient of the loss measured on the chip (forward on the chip,
//    backward through the model);
//  - DAT (onn/model_in_situ.h): PAT with an error prediction per optical
//    layer fitted to the same measurements, in the backward pass after
//    --dat-warmup steps;
//  - with --retrain-epochs > 0, full noise-aware retraining in silico from
//    scratch under the measured noise (the upper reference).
// One JSON line per stage on stdout: accuracies on the chip over --test
// images, the relative gain over the deployed model, chip queries, wall time.
//
//   build/tests/bench/model_bench --model deploy/models/ffn5_gift.textproto --realisation optical
//       --seed 1 --epochs 10 --phase-noise-std 0.007 --save /tmp/ffn5_s1.params
//   build/tests/bench/gift_bench --model deploy/models/ffn5_gift.textproto
//       --params /tmp/ffn5_s1.params --noise-scale 20 --chip-seed 1 --steps 300
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "daemon/training/controller_oracle.h"
#include "phc/trainers/diff/network.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/gift.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"
#include "phc/trainers/onn/model_in_situ.h"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GIFT, PAT and noise-aware retraining of a deployed model under misspecified noise"};
  std::string model_path, params_path, data_dir, label;
  std::uint64_t seed = 1;
  phc::testing::PaperChipOptions chip_options{.noise_scale = 20.0};
  double lr = 1e-3, pat_lr = 1e-3;
  int steps = 300, batch = 64, draws = 4, probe = 256, repeats = 4, train_limit = 0,
      test_limit = 2000, retrain_epochs = 0;
  std::vector<std::string> methods{"gift", "pat"};
  phc::trainers::onn::ModelInSituOptions dat_options{.method =
                                                         phc::trainers::onn::InSituMethod::kDat};
  app.add_option("--model", model_path)->required()->check(CLI::ExistingFile);
  app.add_option("--params", params_path, "parameters written by model_bench --save")
      ->required()
      ->check(CLI::ExistingFile);
  phc::testing::AddPaperChipOptions(app, chip_options);
  app.add_option("--seed", seed, "minibatches, noise draws")->capture_default_str();
  app.add_option("--methods", methods, "of gift, pat, dat")
      ->check(CLI::IsMember({"gift", "pat", "dat"}))
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--steps", steps, "GIFT, PAT and DAT steps")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--draws", draws, "GIFT noise draws per step")->capture_default_str();
  app.add_option("--lr", lr, "GIFT's trial step (Adam)")->capture_default_str();
  app.add_option("--pat-lr", pat_lr, "PAT's and DAT's Adam step")->capture_default_str();
  app.add_option("--dat-warmup", dat_options.warmup_steps,
                 "DAT: steps before the predictions enter the backward pass")
      ->capture_default_str();
  app.add_option("--dat-forgetting", dat_options.forgetting,
                 "DAT: weight of earlier minibatches in the predictions' fit")
      ->capture_default_str();
  app.add_option("--probe", probe, "training images the noise estimate measures")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "chip measurements per layer")->capture_default_str();
  app.add_option("--retrain-epochs", retrain_epochs, "noise-aware retraining (0: skip)")
      ->capture_default_str();
  app.add_option("--train", train_limit, "training images (0: all 60,000)")->capture_default_str();
  app.add_option("--test", test_limit, "test images measured on the chip (0: all)")
      ->capture_default_str();
  app.add_option("--data", data_dir, "Fashion-MNIST directory");
  app.add_option("--label", label, "free text copied into every line");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);
  const auto fail = phc::testing::PrintFailure;
  if (retrain_epochs > 0 && std::ranges::find(methods, "gift") == methods.end()) {
    return fail(absl::InvalidArgumentError(
        "--retrain-epochs: the retraining uses GIFT's measured noise; add gift to --methods"));
  }
  if (absl::Status s = onn::ValidateGiftOptions({.draws = draws, .learning_rate = lr}); !s.ok()) {
    return fail(s);
  }

  absl::StatusOr<phc::testing::SavedModel> saved =
      phc::testing::LoadSavedModel(model_path, params_path);
  if (!saved.ok()) return fail(saved.status());
  onn::Model& model = saved->model;
  const Eigen::VectorXd pretrained = model.Parameters();
  absl::StatusOr<onn::ModelData> data =
      onn::LoadModelData(saved->spec, data_dir, train_limit, test_limit);
  if (!data.ok()) return fail(data.status());
  const double in_silico = onn::EvaluateAccuracy(model, data->test);

  absl::StatusOr<phc::testing::PaperChip> made = phc::testing::MakePaperChip(model, chip_options);
  if (!made.ok()) return fail(made.status());
  const photonsim::ChipLayout& layout = made->layout;
  const onn::ChipPlacement* placement = &made->placement;
  phc::testing::SimBench* bench = &made->bench;

  char head[512];
  std::snprintf(head, sizeof head,
                "{\"benchmark\": \"gift\", \"model\": \"%s\", \"noise\": \"%s\", "
                "\"noise_scale\": %g, \"sigma\": %g, \"label\": \"%s\", \"seed\": %llu, "
                "\"chip_seed\": %llu, \"steps\": %d, \"batch\": %d, \"test\": %d",
                saved->spec.name().c_str(), chip_options.noise.c_str(), chip_options.noise_scale,
                chip_options.noise == "dat" ? chip_options.dat_sigma : 0.0, label.c_str(),
                static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(chip_options.chip_seed), steps, batch,
                data->test.size());
  const auto start = Clock::now();
  const absl::Status ran = bench->controller->RunSync([&]() -> absl::Status {
    phc::daemon::ControllerOracle oracle(*bench->controller, 1);
    const std::vector<double> zero_power(bench->controller->phase_model().bias_rad().begin(),
                                         bench->controller->phase_model().bias_rad().end());
    auto deploy = [&]() {
      return oracle.SetPhases(onn::DeployedPhases(model, layout, *placement, zero_power));
    };
    auto chip_accuracy = [&]() -> absl::StatusOr<double> {
      if (absl::Status s = deploy(); !s.ok()) return s;
      absl::StatusOr<onn::ChipEvaluation> e =
          onn::ChipAccuracy(model, *placement, oracle, data->test);
      if (!e.ok()) return e.status();
      return e->accuracy;
    };
    const absl::StatusOr<double> deployed = chip_accuracy();
    if (!deployed.ok()) return deployed.status();
    std::printf("%s, \"stage\": \"deployed\", \"in_silico\": %.4f, \"accuracy\": %.4f}\n", head,
                in_silico, *deployed);
    std::fflush(stdout);
    auto report = [&](const char* stage, double accuracy, std::int64_t queries, double seconds,
                      const std::string& extra) {
      std::printf(
          "%s, \"stage\": \"%s\", \"deployed\": %.4f, \"accuracy\": %.4f, "
          "\"relative_gain\": %.4f, \"chip_queries\": %lld, \"wall_s\": %.1f%s}\n",
          head, stage, *deployed, accuracy, (accuracy - *deployed) / *deployed,
          static_cast<long long>(queries), seconds, extra.c_str());
      std::fflush(stdout);
    };

    auto wants = [&](const char* method) {
      return std::ranges::find(methods, method) != methods.end();
    };
    double mean_square = 0.0;  // of the measured phase noise (GIFT), for the retraining
    // GIFT: the noise structure, then checked steps on the expected loss.
    if (wants("gift")) {
      auto phase_start = Clock::now();
      std::int64_t queries_before = oracle.cost().queries;
      const Eigen::MatrixXd probe_rows =
          data->train.features.topRows(std::min(probe, data->train.size()));
      absl::StatusOr<onn::NoiseStructure> structure = onn::EstimateNoiseStructure(
          model, *placement, oracle, probe_rows, {.repeats = repeats, .seed = seed});
      if (!structure.ok()) return structure.status();
      std::string sigmas = ", \"phase_std_rad\": [";
      for (std::size_t l = 0; l < structure->layers.size(); ++l) {
        const onn::LayerNoise& n = structure->layers[l];
        char item[64];
        std::snprintf(item, sizeof item, "%s%.5f", l == 0 ? "" : ", ", n.phase_std_rad);
        sigmas += item;
        mean_square += n.phase_std_rad * n.phase_std_rad / structure->layers.size();
      }
      sigmas += "]";
      std::printf("%s, \"stage\": \"noise_structure\"%s, \"queries\": %lld, \"wall_s\": %.1f}\n",
                  head, sigmas.c_str(), static_cast<long long>(structure->queries),
                  Seconds(phase_start));
      std::fflush(stdout);
      onn::GiftTrainer gift(model, *structure, {.draws = draws, .learning_rate = lr, .seed = seed});
      phc::trainers::EpochMinibatches batches(data->train, batch, seed);
      int applied = 0;
      for (int s = 0; s < steps; ++s) {
        const phc::trainers::Dataset minibatch = batches.At(s);
        const Eigen::MatrixXd& x = minibatch.features;
        const std::vector<int>& y = minibatch.labels;
        applied += gift.Step(x, y).applied;
      }
      absl::StatusOr<double> gift_accuracy = chip_accuracy();
      if (!gift_accuracy.ok()) return gift_accuracy.status();
      char extra[128];
      std::snprintf(extra, sizeof extra, ", \"applied_steps\": %d, \"final_draws\": %d", applied,
                    gift.draws());
      report("gift", *gift_accuracy,
             oracle.cost().queries - queries_before -
                 std::int64_t{data->test.size()} * onn::QueriesPerSample(model),
             Seconds(phase_start), extra);
    }

    // PAT and DAT from the same deployed start.
    for (const char* method : {"pat", "dat"}) {
      if (!wants(method)) continue;
      model.SetParameters(pretrained);
      if (absl::Status st = deploy(); !st.ok()) return st;
      const auto phase_start = Clock::now();
      const std::int64_t queries_before = oracle.cost().queries;
      onn::ModelInSituOptions options = dat_options;
      options.learning_rate = pat_lr;
      if (method == std::string("pat")) options.method = onn::InSituMethod::kPat;
      onn::ModelInSituTrainer trainer(model, *placement, oracle, options);
      phc::trainers::EpochMinibatches batches(data->train, batch, seed);
      std::vector<double> similarity(model.layers().size(), 0.0);
      for (int s = 0; s < steps; ++s) {
        const phc::trainers::Dataset minibatch = batches.At(s);
        absl::StatusOr<onn::ModelInSituStep> step =
            trainer.Step(minibatch.features, minibatch.labels);
        if (!step.ok()) return step.status();
        if (s == steps - 1) similarity = step->similarity_before;
        if (absl::Status st = deploy(); !st.ok()) return st;
      }
      const std::int64_t queries = oracle.cost().queries - queries_before;
      absl::StatusOr<double> accuracy = chip_accuracy();
      if (!accuracy.ok()) return accuracy.status();
      std::string extra;
      if (options.method == onn::InSituMethod::kDat) {
        extra = ", \"similarity_mse_last_step\": [";
        for (std::size_t l = 0; l < similarity.size(); ++l) {
          char item[32];
          std::snprintf(item, sizeof item, "%s%.3g", l == 0 ? "" : ", ", similarity[l]);
          extra += item;
        }
        extra += "]";
      }
      report(method, *accuracy, queries, Seconds(phase_start), extra);
    }

    if (retrain_epochs > 0) {
      const auto phase_start = Clock::now();
      absl::StatusOr<onn::Model> fresh =
          onn::Model::Build(saved->spec, onn::Realisation::kOptical, seed);
      if (!fresh.ok()) return fresh.status();
      const double sigma = std::sqrt(mean_square);
      absl::StatusOr<onn::InSilicoResult> trained = onn::TrainInSilico(
          *fresh, data->train, data->test,
          {.epochs = retrain_epochs, .phase_noise_std_rad = sigma, .seed = seed});
      if (!trained.ok()) return trained.status();
      model.SetParameters(fresh->Parameters());
      absl::StatusOr<double> retrained = chip_accuracy();
      if (!retrained.ok()) return retrained.status();
      char sigma_extra[64];
      std::snprintf(sigma_extra, sizeof sigma_extra, ", \"phase_noise_std_rad\": %.5f", sigma);
      report("noise_aware_retraining", *retrained, 0, Seconds(phase_start), sigma_extra);
    }
    return absl::OkStatus();
  });
  if (!ran.ok()) return fail(ran);
  std::fprintf(stderr, "gift_bench: %.1f s\n", Seconds(start));
  return 0;
}
