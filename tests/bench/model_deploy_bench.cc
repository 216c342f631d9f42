// Deploying a model trained in silico onto chips: test accuracy of the
// ideal model, of the ideal chip (the chip description's ideal optics,
// ModelOracle: must equal the model), and of a fabricated simulated chip
// (photonsim, hidden errors drawn from --chip-seed) driven through the
// daemon's ChipController: as deployed with the nominal phase model, then
// programmed in situ (--sweeps, --refinements), then calibrated
// (RunCalibration) and programmed. Also the chip-forward throughput through
// the controller against the raw simulator driven the same way in the same
// run, and the time to deploy, calibrate and program. One JSON line per
// stage on stdout; in situ programming's progress on stderr.
//
//   build/tests/bench/model_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --save /tmp/mlp.params
//   build/tests/bench/model_deploy_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --params /tmp/mlp.params --test 2000
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>

#include "daemon/calibration/calibrator.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/in_situ_programming.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/phase.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/bench/saved_model.h"
#include "tests/sim_bench.h"
#include "tests/sim_oracle.h"

namespace {

namespace onn = phc::trainers::onn;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Emit(const std::string& model, const char* stage, double accuracy, int samples, double seconds,
          const std::string& extra = "") {
  std::printf(
      "{\"benchmark\": \"model_deploy\", \"model\": \"%s\", \"stage\": \"%s\", \"accuracy\": %.4f, "
      "\"samples\": %d, \"samples_per_s\": %.1f%s}\n",
      model.c_str(), stage, accuracy, samples, samples / std::max(seconds, 1e-9), extra.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deploy an in silico model onto the ideal and a fabricated simulated chip"};
  std::string model_path, params_path, instruments_path, data_dir;
  std::uint64_t chip_seed = 1;
  int test_limit = 1000;
  std::uint32_t averages = 1;
  double budget_per_phase_mw = 50.0;
  app.add_option("--model", model_path)->required()->check(CLI::ExistingFile);
  app.add_option("--params", params_path, "parameters written by model_bench --save")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--instruments", instruments_path,
                 "chip whose heater/detector/fabrication specs the model's chip takes")
      ->check(CLI::ExistingFile);
  app.add_option("--chip-seed", chip_seed, "draws the fabricated chip")->capture_default_str();
  app.add_option("--test", test_limit, "test images (0: all 10,000)")->capture_default_str();
  app.add_option("--averages", averages, "detector averages per query")->capture_default_str();
  app.add_option("--budget-per-phase-mw", budget_per_phase_mw)->capture_default_str();
  app.add_option("--data", data_dir, "Fashion-MNIST directory");
  int sweeps = 6, refinements = 20;
  bool skip_references = false;
  app.add_flag("--skip-references", skip_references,
               "skip the fabricated-without-phase-bias and raw-simulator stages");
  app.add_option("--sweeps", sweeps, "in situ programming sweeps (0: skip that stage)")
      ->capture_default_str();
  app.add_option("--refinements", refinements, "in situ programming Levenberg-Marquardt steps")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);
  if (instruments_path.empty()) {
    instruments_path = std::string(PHC_SOURCE_DIR) + "/deploy/chips/onn_svd8x24.textproto";
  }

  const auto fail = phc::testing::PrintFailure;
  absl::StatusOr<phc::testing::SavedModel> saved =
      phc::testing::LoadSavedModel(model_path, params_path);
  if (!saved.ok()) return fail(saved.status());
  const photonic::v1::ModelSpec* spec = &saved->spec;
  onn::Model* model = &saved->model;
  const absl::StatusOr<onn::ModelData> data = onn::LoadModelData(*spec, data_dir, 1, test_limit);
  if (!data.ok()) return fail(data.status());
  const std::string name = spec->name();
  const int n = data->test.size();

  auto start = Clock::now();
  Emit(name, "in_silico", onn::EvaluateAccuracy(*model, data->test), n, Seconds(start));

  absl::StatusOr<photonic::v1::ChipDescription> instruments =
      phc::testing::LoadChipDescription(instruments_path);
  if (!instruments.ok()) return fail(instruments.status());
  instruments->set_max_total_heater_power_mw(budget_per_phase_mw *
                                             photonsim::BuildChipLayout(*instruments).phase_count);
  const photonic::v1::ChipDescription chip = onn::ChipForModel(*model, *instruments);
  const absl::StatusOr<onn::ChipPlacement> placement = onn::PlaceModel(*model, chip);
  if (!placement.ok()) return fail(placement.status());
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);

  {
    phc::trainers::ModelOracle ideal(chip);
    if (absl::Status s = ideal.SetPhases(onn::DeployedPhases(
            *model, layout, *placement, std::vector<double>(layout.phase_count, 0.0)));
        !s.ok()) {
      return fail(s);
    }
    start = Clock::now();
    const auto evaluation = onn::ChipAccuracy(*model, *placement, ideal, data->test);
    if (!evaluation.ok()) return fail(evaluation.status());
    Emit(name, "ideal_chip", evaluation->accuracy, n, Seconds(start));
  }

  // Deploys on a simulated chip drawn from `description` and evaluates
  // through the controller; emits one line as `stage`.
  double controller_seconds = 0.0;
  auto run_fabricated = [&](const photonic::v1::ChipDescription& description, const char* stage,
                            bool program_in_situ = false, bool calibrate = false) -> absl::Status {
    absl::StatusOr<phc::testing::SimBench> bench =
        phc::testing::MakeSimBench(description, chip_seed);
    if (!bench.ok()) return bench.status();
    double deploy_seconds = 0.0, power_mw = 0.0, seconds = 0.0;
    char programming[512] = "";
    phc::trainers::onn::ChipEvaluation evaluation;
    const absl::Status on_chip = bench->controller->RunSync([&]() -> absl::Status {
      char calibration[160] = "";
      if (calibrate) {
        const auto t0 = Clock::now();
        phc::daemon::CalibrationOptions options;
        options.averages = static_cast<int>(std::max<std::uint32_t>(averages, 1));
        absl::StatusOr<photonic::v1::PhaseCalibration> fitted =
            phc::daemon::RunCalibration(*bench->controller, options, {}, nullptr);
        if (!fitted.ok()) return fitted.status();
        int swept = 0;
        for (bool f : fitted->efficiency_fitted()) swept += f;
        std::snprintf(calibration, sizeof calibration,
                      ", \"calibration_seconds\": %.1f, \"efficiencies_measured\": %d, "
                      "\"calibration_readings\": %u",
                      Seconds(t0), swept, fitted->measurements());
      }
      phc::daemon::ControllerOracle oracle(*bench->controller, averages);
      const std::vector<double> zero_power(bench->controller->phase_model().bias_rad().begin(),
                                           bench->controller->phase_model().bias_rad().end());
      auto t0 = Clock::now();
      if (absl::Status s =
              oracle.SetPhases(onn::DeployedPhases(*model, layout, *placement, zero_power));
          !s.ok()) {
        return s;
      }
      onn::ChipPlacement used = *placement;
      if (program_in_situ) {
        onn::InSituProgrammingOptions options;
        options.sweeps = sweeps;
        options.refinements = refinements;
        options.progress = [&](int sweep, int total, double residual) {
          std::fprintf(stderr, "in situ programming: step %d/%d, mean residual %.4f\n", sweep,
                       total, residual);
          return true;
        };
        auto programmed = onn::ProgramCoresInSitu(
            *model, used, oracle, onn::DeployedPhases(*model, layout, *placement, zero_power),
            options);
        if (!programmed.ok()) return programmed.status();
        onn::ApplyReceiverCalibration(*programmed, used);
        std::vector<double> sorted = programmed->final_residual;
        std::ranges::sort(sorted);
        std::fprintf(stderr, "in situ programming: core residuals min %.4f median %.4f max %.4f\n",
                     sorted.front(), sorted[sorted.size() / 2], sorted.back());
        double before = 0.0, after = 0.0;
        for (std::size_t c = 0; c < programmed->final_residual.size(); ++c) {
          before += programmed->initial_residual[c] / programmed->final_residual.size();
          after += programmed->final_residual[c] / programmed->final_residual.size();
        }
        std::snprintf(programming, sizeof programming,
                      ", \"sweeps\": %d, \"refinements\": %d, \"residual_before\": %.4f, "
                      "\"residual_after\": %.4f, "
                      "\"programming_queries\": %lld, \"programming_writes\": %lld",
                      programmed->sweeps, programmed->refinements, before, after,
                      static_cast<long long>(programmed->queries),
                      static_cast<long long>(programmed->phase_writes));
        std::strncat(programming, calibration, sizeof programming - std::strlen(programming) - 1);
      }
      deploy_seconds = Seconds(t0);
      power_mw = bench->controller->GetPhases().total_heater_power_mw;
      t0 = Clock::now();
      auto measured = onn::ChipAccuracy(*model, used, oracle, data->test);
      if (!measured.ok()) return measured.status();
      seconds = Seconds(t0);
      evaluation = *measured;
      return absl::OkStatus();
    });
    if (!on_chip.ok()) return on_chip;
    char details[512];
    std::snprintf(details, sizeof details,
                  ", \"chip_seed\": %llu, \"phases\": %d, \"deploy_seconds\": %.3f, "
                  "\"heater_power_mw\": %.0f, \"queries\": %lld%s",
                  static_cast<unsigned long long>(chip_seed), layout.phase_count, deploy_seconds,
                  power_mw, static_cast<long long>(evaluation.queries), programming);
    Emit(name, stage, evaluation.accuracy, n, seconds, details);
    controller_seconds = seconds;
    return absl::OkStatus();
  };
  // The same fabrication with every phase bias zero: what is left once the
  // biases are known (efficiency and resistance spread, crosstalk, coupler
  // errors, loss, noise are not corrected by the nominal model).
  photonic::v1::ChipDescription without_bias = chip;
  without_bias.mutable_fabrication()->set_random_phase_bias(false);
  if (!skip_references) {
    if (absl::Status s = run_fabricated(without_bias, "fabricated_without_phase_bias"); !s.ok()) {
      return fail(s);
    }
  }
  if (absl::Status s = run_fabricated(chip, "fabricated_uncalibrated"); !s.ok()) return fail(s);
  if (sweeps > 0) {
    if (absl::Status s = run_fabricated(chip, "fabricated_programmed_in_situ", true); !s.ok()) {
      return fail(s);
    }
    if (absl::Status s =
            run_fabricated(chip, "fabricated_calibrated_programmed_in_situ", true, true);
        !s.ok()) {
      return fail(s);
    }
  }
  if (skip_references) return 0;
  char extra[256];

  absl::StatusOr<std::unique_ptr<photonsim::SimChip>> raw_sim =
      photonsim::SimChip::Create(chip, chip_seed);
  if (!raw_sim.ok()) return fail(raw_sim.status());
  phc::testing::RawSimOracle raw(**raw_sim, chip);
  (void)raw.SetPhases(onn::DeployedPhases(*model, layout, *placement,
                                          std::vector<double>(layout.phase_count, 0.0)));
  start = Clock::now();
  const auto raw_evaluation = onn::ChipAccuracy(*model, *placement, raw, data->test);
  if (!raw_evaluation.ok()) return fail(raw_evaluation.status());
  const double raw_seconds = Seconds(start);
  std::snprintf(extra, sizeof extra, ", \"controller_over_raw_throughput\": %.3f",
                raw_seconds / controller_seconds);
  Emit(name, "raw_simulator_uncalibrated", raw_evaluation->accuracy, n, raw_seconds, extra);
  return 0;
}
