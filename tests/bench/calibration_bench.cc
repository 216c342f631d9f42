// Calibration accuracy and cost on a simulated chip, as JSON.
//
//   calibration_bench --chip deploy/chips/clements8.textproto --seed 1 [--targets 5]
//
// Runs the daemon's calibration against a SimChip drawn from the seed and
// compares the result with the chip's hidden truth: bias error (rad, on the
// circle), efficiency error (relative to what the daemon can see, eta * R_nominal
// / R_true), crosstalk; then programs Haar-random unitaries on circuit 0 and
// reports the mean fidelity before and after, and the chip and wall time spent.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "daemon/calibration/calibrator.h"
#include "daemon/chip/chip_controller.h"
#include "photonsim/haar_unitary.h"
#include "photonsim/sim_chip.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"

namespace {

// Mean fidelity over the targets the guard lets through; `refused` counts
// the others (over a limit with this phase model).
double MeanFidelity(phc::daemon::ChipController& controller, int targets, int* refused) {
  const int n = controller.layout().circuits[0].size;
  double sum = 0.0;
  int programmed = 0;
  *refused = 0;
  for (int t = 1; t <= targets; ++t) {
    const auto target = photonsim::HaarUnitary(n, 1000 + t);
    auto m = controller.RunSync(
        [&] { return phc::daemon::ProgramUnitaryAndMeasure(controller, 0, target, 16); });
    if (!m.ok()) {
      std::fprintf(stderr, "target %d: %s\n", t, m.status().ToString().c_str());
      ++*refused;
      continue;
    }
    sum += m->fidelity;
    ++programmed;
  }
  return programmed > 0 ? sum / programmed : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"calibration accuracy and cost against a simulated chip's hidden truth"};
  std::string chip_path;
  std::uint64_t seed = 1;
  int targets = 5;
  app.add_option("--chip", chip_path, "chip description")->required()->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "simulated chip seed")->capture_default_str();
  app.add_option("--targets", targets, "Haar-random unitaries for the fidelity")
      ->capture_default_str();
  double splitting_error = -1.0;
  app.add_option("--splitting-error-std", splitting_error,
                 "override the chip's coupler splitting error (rad)");
  bool column_peeling = true;
  app.add_option("--column-peeling", column_peeling,
                 "start Clements meshes from the column-peeling estimate")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // stdout carries the JSON: logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  absl::StatusOr<photonic::v1::ChipDescription> description =
      phc::testing::LoadChipDescription(chip_path);
  if (!description.ok()) {
    std::fprintf(stderr, "%s\n", description.status().ToString().c_str());
    return 1;
  }
  if (splitting_error >= 0.0) {
    description->mutable_fabrication()->set_splitting_error_std_rad(splitting_error);
  }
  absl::StatusOr<phc::testing::SimBench> bench = phc::testing::MakeSimBench(*description, seed);
  if (!bench.ok()) {
    std::fprintf(stderr, "%s\n", bench.status().ToString().c_str());
    return 1;
  }
  const std::shared_ptr<photonsim::SimChip>& chip = bench->sim;
  phc::daemon::ChipController& c = *bench->controller;
  int refused_before = 0, refused_after = 0;
  const double before = MeanFidelity(c, targets, &refused_before);
  phc::daemon::CalibrationOptions options;
  options.seed = seed;
  options.column_peeling = column_peeling;
  auto calibration =
      c.RunSync([&] { return phc::daemon::RunCalibration(c, options, nullptr, nullptr); });
  if (!calibration.ok()) {
    std::fprintf(stderr, "%s\n", calibration.status().ToString().c_str());
    return 1;
  }
  const double after = MeanFidelity(c, targets, &refused_after);

  const photonsim::HiddenTruth& truth = chip->hidden_truth_for_testing();
  double bias2 = 0.0, eta2 = 0.0;
  int fitted = 0;
  for (int i = 0; i < calibration->phase_bias_rad_size(); ++i) {
    if (!calibration->fitted(i)) continue;
    ++fitted;
    double d = std::fmod(std::abs(calibration->phase_bias_rad(i) - truth.phase_bias_rad[i]),
                         2 * std::numbers::pi);
    d = std::min(d, 2 * std::numbers::pi - d);
    const double eta_seen = truth.heater_efficiency_rad_per_mw[i] *
                            description->heater().resistance_ohm() / truth.heater_resistance_ohm[i];
    const double e = calibration->efficiency_rad_per_mw(i) / eta_seen - 1.0;
    bias2 += d * d;
    eta2 += e * e;
    if (d > 0.3 || std::abs(e) > 0.05) {
      std::fprintf(stderr, "phase %d: bias error %.3f rad, efficiency error %.3f\n", i, d, e);
    }
  }
  std::printf("{\n  \"benchmark\": \"calibration\",\n  \"chip\": \"%s\",\n  \"seed\": %llu,\n",
              description->name().c_str(), static_cast<unsigned long long>(seed));
  std::printf("  \"phases_fitted\": %d,\n  \"bias_error_rms_rad\": %.4f,\n", fitted,
              std::sqrt(bias2 / std::max(1, fitted)));
  std::printf("  \"efficiency_error_rms\": %.4f,\n", std::sqrt(eta2 / std::max(1, fitted)));
  std::printf("  \"crosstalk_nearest_fitted\": %.4f,\n  \"crosstalk_nearest_true\": %.4f,\n",
              calibration->crosstalk_nearest(), description->thermal().crosstalk_nearest());
  std::printf("  \"fidelity_before\": %.5f,\n  \"fidelity_after\": %.5f,\n", before, after);
  std::printf("  \"targets\": %d,\n  \"refused_before\": %d,\n  \"refused_after\": %d,\n", targets,
              refused_before, refused_after);
  std::printf("  \"bias_fit_rms\": %.5f,\n", calibration->bias_fit_rms());
  std::printf("  \"readings\": %u,\n  \"chip_seconds\": %.4f,\n  \"wall_seconds\": %.2f\n}\n",
              calibration->measurements(), calibration->chip_seconds(),
              calibration->wall_seconds());
  return 0;
}
