// Deploying a model trained in silico onto chips: test accuracy of the
// ideal model, of the ideal chip (the chip description's ideal optics,
// ModelOracle: must equal the model), and of a fabricated simulated chip
// (photonsim, hidden errors drawn from --chip-seed) driven through the
// daemon's ChipController with its nominal phase model (SVD cores are not
// calibrated yet). Also the chip-forward throughput through the controller
// against the raw simulator driven the same way in the same run, and the
// time to deploy. One JSON line per stage on stdout.
//
//   build/tests/bench/model_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --save /tmp/mlp.params
//   build/tests/bench/model_deploy_bench --model deploy/models/mlp_64_24_24_10.textproto
//       --params /tmp/mlp.params --test 2000
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numbers>

#include "daemon/training/controller_oracle.h"
#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/phase.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"

namespace {

namespace onn = phc::trainers::onn;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The raw simulator as an oracle, driven as the controller drives it with
// a nominal phase model (zero bias, nominal efficiency and resistance) and
// the same settling: the reference the controller's overhead is measured
// against.
class RawSimOracle final : public phc::trainers::ChipOracle {
 public:
  RawSimOracle(photonsim::SimChip& sim, const photonic::v1::ChipDescription& chip)
      : sim_(sim), chip_(chip), layout_(photonsim::BuildChipLayout(chip)) {
    for (int i = 0; i < layout_.phase_count; ++i) channels_.push_back(i);
  }
  const photonsim::ChipLayout& layout() const override { return layout_; }
  absl::Status SetPhases(std::span<const double> phases_rad) override {
    std::vector<double> volts(phases_rad.size());
    for (std::size_t i = 0; i < phases_rad.size(); ++i) {
      volts[i] = std::sqrt(PhasePowerMw(static_cast<int>(i), phases_rad[i]) * 1e-3 *
                           chip_.heater().resistance_ohm());
    }
    sim_.SetHeaterVoltages(channels_, volts);
    sim_.Advance(std::chrono::microseconds(static_cast<int>(8 * chip_.thermal().tau_us())));
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> Query(std::span<const double> amplitudes) override {
    std::vector<double> volts(amplitudes.size());
    for (std::size_t i = 0; i < amplitudes.size(); ++i) {
      volts[i] = 2.0 * chip_.modulator().v_pi_v() / std::numbers::pi * std::asin(amplitudes[i]);
    }
    sim_.SetModulatorVoltages(volts);
    std::vector<double> currents = sim_.ReadPhotocurrentsA(1);
    for (double& c : currents) c = c / chip_.detector().responsivity_a_per_w() * 1e3;
    ++cost_.queries;
    return currents;
  }
  // Power accounting is not measured here (ChipAccuracy does not ask).
  double HeaterPowerMw(std::span<const double>) const override { return 0.0; }
  std::vector<double> HeaterPowersMw(std::span<const double> p) const override {
    return std::vector<double>(p.size(), 0.0);
  }
  double PhasePowerMw(int, double phase_rad) const override {
    return photonsim::WrapPhase(phase_rad) / std::numbers::pi * chip_.heater().p_pi_mw();
  }
  phc::trainers::OracleCost cost() const override { return cost_; }

 private:
  photonsim::SimChip& sim_;
  photonic::v1::ChipDescription chip_;
  photonsim::ChipLayout layout_;
  std::vector<int> channels_;
  phc::trainers::OracleCost cost_;
};

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
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);
  if (instruments_path.empty()) {
    instruments_path = std::string(PHC_SOURCE_DIR) + "/deploy/chips/onn_svd8x24.textproto";
  }

  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    return 2;
  };
  const absl::StatusOr<photonic::v1::ModelSpec> spec = onn::LoadModelSpec(model_path);
  if (!spec.ok()) return fail(spec.status());
  absl::StatusOr<onn::Model> model = onn::Model::Build(*spec, onn::Realisation::kOptical, 1);
  if (!model.ok()) return fail(model.status());
  {
    std::ifstream in(params_path);
    Eigen::VectorXd parameters(model->parameter_count());
    for (Eigen::Index i = 0; i < parameters.size(); ++i) {
      if (!(in >> parameters(i))) return fail(absl::DataLossError("short parameter file"));
    }
    model->SetParameters(parameters);
  }
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
  auto run_fabricated = [&](const photonic::v1::ChipDescription& description,
                            const char* stage) -> absl::Status {
    absl::StatusOr<phc::testing::SimBench> bench =
        phc::testing::MakeSimBench(description, chip_seed);
    if (!bench.ok()) return bench.status();
    double deploy_seconds = 0.0, power_mw = 0.0, seconds = 0.0;
    phc::trainers::onn::ChipEvaluation evaluation;
    const absl::Status on_chip = bench->controller->RunSync([&]() -> absl::Status {
      phc::daemon::ControllerOracle oracle(*bench->controller, averages);
      const std::vector<double> zero_power(bench->controller->phase_model().bias_rad().begin(),
                                           bench->controller->phase_model().bias_rad().end());
      auto t0 = Clock::now();
      if (absl::Status s =
              oracle.SetPhases(onn::DeployedPhases(*model, layout, *placement, zero_power));
          !s.ok()) {
        return s;
      }
      deploy_seconds = Seconds(t0);
      power_mw = bench->controller->GetPhases().total_heater_power_mw;
      t0 = Clock::now();
      auto measured = onn::ChipAccuracy(*model, *placement, oracle, data->test);
      if (!measured.ok()) return measured.status();
      seconds = Seconds(t0);
      evaluation = *measured;
      return absl::OkStatus();
    });
    if (!on_chip.ok()) return on_chip;
    char details[256];
    std::snprintf(details, sizeof details,
                  ", \"chip_seed\": %llu, \"phases\": %d, \"deploy_seconds\": %.3f, "
                  "\"heater_power_mw\": %.0f, \"queries\": %lld",
                  static_cast<unsigned long long>(chip_seed), layout.phase_count, deploy_seconds,
                  power_mw, static_cast<long long>(evaluation.queries));
    Emit(name, stage, evaluation.accuracy, n, seconds, details);
    controller_seconds = seconds;
    return absl::OkStatus();
  };
  // The same fabrication with every phase bias zero: what is left once the
  // biases are known (efficiency and resistance spread, crosstalk, coupler
  // errors, loss, noise are not corrected by the nominal model).
  photonic::v1::ChipDescription without_bias = chip;
  without_bias.mutable_fabrication()->set_random_phase_bias(false);
  if (absl::Status s = run_fabricated(without_bias, "fabricated_without_phase_bias"); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = run_fabricated(chip, "fabricated_uncalibrated"); !s.ok()) return fail(s);
  char extra[256];

  absl::StatusOr<std::unique_ptr<photonsim::SimChip>> raw_sim =
      photonsim::SimChip::Create(chip, chip_seed);
  if (!raw_sim.ok()) return fail(raw_sim.status());
  RawSimOracle raw(**raw_sim, chip);
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
