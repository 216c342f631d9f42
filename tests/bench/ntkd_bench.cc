// Neural tangent knowledge distillation on a simulated chip: an electronic
// teacher on Fashion-MNIST pixels; a hybrid student (two optical blocks of
// the chip's 8x8 mesh on the 8 lowest spatial frequencies, then a digital
// backend) trained in silico with cross-entropy alone and with NTKD; both
// deployed on the calibrated chip ("fabricated"); then the NTKD student's
// backend alone fine-tuned on the frontend's measured outputs (10% of the
// training data), with cross-entropy and with NTKD. JSON lines.
//
//   build/tests/bench/ntkd_bench --chip deploy/chips/clements8.textproto --seed 1
#include <CLI/CLI.hpp>
#include <cstdio>

#include "daemon/calibration/calibrator.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/dfa_run.h"
#include "phc/trainers/diff/distillation.h"
#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/onn_model.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/sim_bench.h"

namespace {

namespace diff = phc::trainers::diff;
using phc::trainers::Dataset;

void Emit(const char* stage, std::uint64_t seed, double accuracy, double beta) {
  std::printf(
      "{\"benchmark\": \"ntkd\", \"stage\": \"%s\", \"seed\": %llu, \"accuracy\": %.4f, "
      "\"beta\": %g}\n",
      stage, static_cast<unsigned long long>(seed), accuracy, beta);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"NTK distillation into a hybrid optical/digital student on a simulated chip"};
  std::string chip_path;
  std::uint64_t seed = 1;
  int train_samples = 10000, test_samples = 2000, teacher_epochs = 5, student_epochs = 20;
  int finetune_epochs = 20, blocks = 2, hidden = 64;
  double beta = 1.0, splitting_error = 0.08;
  app.add_option("--chip", chip_path)->required()->check(CLI::ExistingFile);
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--train", train_samples)->capture_default_str();
  app.add_option("--test", test_samples)->capture_default_str();
  app.add_option("--teacher-epochs", teacher_epochs)->capture_default_str();
  app.add_option("--student-epochs", student_epochs)->capture_default_str();
  app.add_option("--finetune-epochs", finetune_epochs)->capture_default_str();
  app.add_option("--blocks", blocks)->capture_default_str();
  app.add_option("--hidden", hidden)->capture_default_str();
  app.add_option("--beta", beta, "weight of the NTK alignment loss")->capture_default_str();
  app.add_option("--splitting-error-std", splitting_error, "the fabricated chip's couplers (rad)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);

  auto description = phc::testing::LoadChipDescription(chip_path);
  if (!description.ok()) return 1;
  description->mutable_fabrication()->set_splitting_error_std_rad(splitting_error);
  const int modes = photonsim::BuildChipLayout(*description).circuits.at(0).size;
  auto reduced = phc::trainers::LoadTrainingData("fashion-mnist", modes, 10, train_samples,
                                                 test_samples, seed);
  auto pixels =
      phc::trainers::LoadDfaData("fashion-mnist", 784, 10, train_samples, test_samples, seed);
  if (!reduced.ok() || !pixels.ok() || reduced->train.labels != pixels->train.labels) {
    std::fprintf(stderr, "fashion-mnist: cannot load aligned pixel and reduced sets\n");
    return 1;
  }

  // Teacher: 784-256-10 by backpropagation.
  diff::Network teacher = diff::MakeTeacher(784, 256, 10, seed);
  diff::TrainInSilico(teacher, pixels->train, pixels->test,
                      {.epochs = teacher_epochs, .batch = 64, .learning_rate = 1e-3, .seed = seed});
  Emit("teacher", seed, diff::ModelAccuracy(teacher, pixels->test), 0);

  const Dataset& train = reduced->train;
  const Dataset& test = reduced->test;
  diff::HybridStudent plain = diff::MakeHybridStudent(modes, blocks, hidden, 10, seed);
  diff::TrainHybrid(plain, nullptr, train.features, pixels->train.features, train.labels,
                    student_epochs, 0.01, 0.0, true, seed);
  Emit("student_without_ntkd", seed,
       diff::HybridAccuracy(plain, test.features, test.labels, nullptr), 0);
  diff::HybridStudent distilled = diff::MakeHybridStudent(modes, blocks, hidden, 10, seed);
  diff::TrainHybrid(distilled, &teacher, train.features, pixels->train.features, train.labels,
                    student_epochs, 0.01, beta, true, seed);
  Emit("student_ntkd", seed, diff::HybridAccuracy(distilled, test.features, test.labels, nullptr),
       beta);

  // The fabricated chip: calibrated, its couplers off by splitting_error.
  auto bench = phc::testing::MakeSimBench(*description, seed);
  if (!bench.ok()) return 1;
  phc::daemon::ChipController& controller = *bench->controller;
  const absl::Status status = controller.RunSync([&]() -> absl::Status {
    phc::daemon::CalibrationOptions calibration;
    calibration.seed = seed;
    if (auto c = phc::daemon::RunCalibration(controller, calibration, nullptr, nullptr); !c.ok()) {
      return c.status();
    }
    phc::daemon::ControllerOracle oracle(controller, 1);
    diff::OracleMeasurer chip(oracle, 0, description->laser_power_mw());
    Emit("fabricated_without_ntkd", seed,
         diff::HybridAccuracy(plain, test.features, test.labels, &chip), 0);
    Emit("fabricated_ntkd", seed,
         diff::HybridAccuracy(distilled, test.features, test.labels, &chip), beta);

    // Post-fabrication: the frontend's measured outputs on 10% of the
    // training set (measured once), the backend alone trained on them.
    const int tune = train.size() / 10;
    auto measured = distilled.frontend.ForwardMeasured(train.features.topRows(tune), chip);
    if (!measured.ok()) return measured.status();
    auto test_measured = distilled.frontend.ForwardMeasured(reduced->test.features, chip);
    if (!test_measured.ok()) return test_measured.status();
    const std::vector<int> tune_labels(train.labels.begin(), train.labels.begin() + tune);
    for (const double tune_beta : {0.0, beta}) {
      diff::HybridStudent tuned = diff::MakeHybridStudent(modes, blocks, hidden, 10, seed);
      tuned.backend.SetParameters(distilled.backend.Parameters());
      tuned.frontend = diff::Network();  // the measured outputs stand for it
      diff::TrainHybrid(tuned, &teacher, *measured, pixels->train.features.topRows(tune),
                        tune_labels, finetune_epochs, 1e-3, tune_beta, false, seed);
      Emit(tune_beta > 0 ? "finetuned_backend_ntkd" : "finetuned_backend_ce", seed,
           diff::HybridAccuracy(tuned, *test_measured, test.labels, nullptr), tune_beta);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
