// In silico -> in situ on a simulated chip: a three-block MZI ONN (each
// block the chip's mesh, time-multiplexed, then detection; re-encoding
// between blocks; a digital 10-way readout) trained in silico on the ideal
// model, deployed on the calibrated chip, then adapted in situ with
// physics-aware training (PAT) and dual adaptive training (DAT). One JSON
// line per stage: accuracy on the test set, chip measurements, wall time.
//
//   build/tests/bench/insitu_bench --chip deploy/chips/clements8.textproto --seed 1
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "daemon/calibration/calibrator.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/diff/in_situ_run.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"

namespace {

namespace diff = phc::trainers::diff;

void Emit(const char* stage, std::uint64_t seed, double accuracy, std::int64_t measurements,
          double seconds, const std::string& extra = "") {
  std::printf(
      "{\"benchmark\": \"insitu\", \"stage\": \"%s\", \"seed\": %llu, \"accuracy\": %.4f, "
      "\"chip_measurements\": %lld, \"wall_s\": %.1f%s}\n",
      stage, static_cast<unsigned long long>(seed), accuracy, static_cast<long long>(measurements),
      seconds, extra.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"in silico -> in situ (deployed, PAT, DAT) on a simulated chip, JSON lines"};
  std::string chip_path;
  std::uint64_t seed = 1;
  int train_samples = 10000, test_samples = 2000, blocks = 3;
  int silico_epochs = 20, situ_epochs = 5;
  double learning_rate = 0.01, sepn_learning_rate = 0.001;
  bool calibrate = true;
  double splitting_error = -1.0;
  app.add_option("--chip", chip_path, "chip description")->required()->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "chip, data and model seed")->capture_default_str();
  app.add_option("--train", train_samples)->capture_default_str();
  app.add_option("--test", test_samples)->capture_default_str();
  app.add_option("--blocks", blocks, "optical blocks (mesh + detection)")->capture_default_str();
  app.add_option("--silico-epochs", silico_epochs)->capture_default_str();
  app.add_option("--situ-epochs", situ_epochs)->capture_default_str();
  app.add_option("--lr", learning_rate)->capture_default_str();
  app.add_option("--sepn-lr", sepn_learning_rate)->capture_default_str();
  app.add_option("--calibrate", calibrate, "calibrate the chip first")->capture_default_str();
  app.add_option("--splitting-error-std", splitting_error,
                 "override the chip's coupler splitting error (rad); DAT's regime is 0.04-0.1");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  auto description = phc::testing::LoadChipDescription(chip_path);
  if (!description.ok()) {
    std::fprintf(stderr, "%s\n", description.status().ToString().c_str());
    return 1;
  }
  if (splitting_error >= 0.0) {
    description->mutable_fabrication()->set_splitting_error_std_rad(splitting_error);
  }
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(*description);
  const int modes = layout.circuits.at(0).size;
  auto data = phc::trainers::LoadTrainingData("fashion-mnist", modes, 10, train_samples,
                                              test_samples, seed);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  // In silico, on the ideal model: the error-free accuracy.
  diff::TrainOptions options;
  options.epochs = silico_epochs;
  options.learning_rate = learning_rate;
  options.sepn_learning_rate = sepn_learning_rate;
  options.seed = seed;
  diff::Network silico = diff::BuildBlockOnn(modes, blocks, 10, false, seed);
  diff::TrainInSilico(silico, data->train, data->test, options, [](const diff::EpochReport& r) {
    std::fprintf(stderr, "in silico epoch %d: loss %.3f, accuracy %.4f\n", r.epoch, r.train_loss,
                 r.accuracy);
  });
  Emit("error_free_model", seed, diff::ModelAccuracy(silico, data->test), 0, seconds(),
       ", \"source\": \"" + data->source + "\"");
  const Eigen::VectorXd trained = silico.Parameters();

  for (const char* stage : {"deployed", "pat", "dat"}) {
    auto bench = phc::testing::MakeSimBench(*description, seed);
    if (!bench.ok()) {
      std::fprintf(stderr, "%s\n", bench.status().ToString().c_str());
      return 1;
    }
    phc::daemon::ChipController& controller = *bench->controller;
    const std::string stage_name = stage;
    const absl::Status status = controller.RunSync([&]() -> absl::Status {
      if (calibrate) {
        phc::daemon::CalibrationOptions calibration;
        calibration.seed = seed;
        auto result = phc::daemon::RunCalibration(controller, calibration, nullptr, nullptr);
        if (!result.ok()) return result.status();
      }
      phc::daemon::ControllerOracle oracle(controller, 1);
      diff::OracleMeasurer chip(oracle, 0, description->laser_power_mw());
      const bool dat = stage_name == "dat";
      diff::Network model = diff::BuildBlockOnn(modes, blocks, 10, dat, seed);
      // The trained task parameters; DAT's predictions start at zero.
      std::vector<double> task(trained.data(), trained.data() + trained.size());
      Eigen::Index k = 0;
      for (const auto& layer : model.layers()) {
        if (layer->optical_correction()) continue;
        for (double& p : layer->parameters()) p = task[k++];
      }
      const double t0 = seconds();
      if (stage_name != "deployed") {
        options.epochs = situ_epochs;
        absl::Status s = diff::TrainInSitu(
            model, chip,
            dat ? diff::InSituMethod::kDualAdaptive : diff::InSituMethod::kPhysicsAware,
            data->train, data->test, options, [&](const diff::EpochReport& r) {
              std::fprintf(stderr, "%s epoch %d: loss %.3f, mse %.2e, accuracy %.4f\n",
                           stage_name.c_str(), r.epoch, r.train_loss, r.similarity_mse, r.accuracy);
            });
        if (!s.ok()) return s;
      }
      auto accuracy = diff::PhysicalAccuracy(model, chip, data->test);
      if (!accuracy.ok()) return accuracy.status();
      Emit(stage, seed, *accuracy, chip.measurements(), seconds() - t0);
      return absl::OkStatus();
    });
    if (!status.ok()) {
      std::fprintf(stderr, "%s: %s\n", stage, status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
