// NTKD at the paper's scale (Xiang et al. 2025): a hybrid student whose
// optical convolution sees the whole image (--student, hybrid_ntkd: 8
// channels of 4x4 patches on one 16x16 core, a digital backend) distilled
// from a LeNet-class electronic teacher (--teacher, lenet_teacher) with the
// NTK-aligned loss over every student parameter (onn/tangent_kernel.h),
// then "fabricated": deployed on a simulated chip made for it (the noise
// model of Gu et al. at --noise-scale, or onn_svd8x24's own errors), its
// frontend measured once on --finetune-samples training images and on the
// test set, and only the digital backend fine-tuned on the measurements,
// with cross-entropy or with NTKD against the teacher. One JSON line per
// row of the paper's table on stdout.
//
//   build/tests/bench/ntkd_model_bench --seed 1 --noise-scale 10
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "daemon/training/controller_oracle.h"
#include "phc/trainers/diff/distillation.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"
#include "phc/trainers/onn/tangent_kernel.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/bench/paper_chip.h"
#include "tests/bench/saved_model.h"

namespace {

namespace onn = phc::trainers::onn;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

absl::StatusOr<onn::Model> BuildFrom(const std::string& path, onn::Realisation realisation,
                                     std::uint64_t seed) {
  absl::StatusOr<photonic::v1::ModelSpec> spec = onn::LoadModelSpec(path);
  if (!spec.ok()) return spec.status();
  return onn::Model::Build(*spec, realisation, seed);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "NTKD at the paper's scale: teacher, student with and without NTKD, fabricated, "
      "backend fine-tuned with CE and with NTKD"};
  std::string student_path = std::string(PHC_SOURCE_DIR) + "/deploy/models/hybrid_ntkd.textproto";
  std::string teacher_path = std::string(PHC_SOURCE_DIR) + "/deploy/models/lenet_teacher.textproto";
  std::string data_dir, label;
  std::uint64_t seed = 1;
  phc::testing::PaperChipOptions chip_options;
  std::vector<std::string> chips{"paper:3", "paper:5", "chip"};
  int teacher_epochs = 10, epochs = 10, finetune_epochs = 10, finetune_samples = 6000,
      train_limit = 0, test_limit = 0, batch = 32;
  double lr = 2e-3, finetune_lr = 1e-3;
  onn::NtkdOptions ntkd;
  app.add_option("--student", student_path)->check(CLI::ExistingFile)->capture_default_str();
  app.add_option("--teacher", teacher_path)->check(CLI::ExistingFile)->capture_default_str();
  app.add_option("--chips", chips,
                 "fabrications, each paper:SCALE (Gu et al.'s noise model times SCALE) or chip "
                 "(onn_svd8x24's own errors)")
      ->capture_default_str();
  app.add_option("--chip-seed", chip_options.chip_seed, "draws the simulated chips")
      ->capture_default_str();
  app.add_option("--seed", seed, "initial parameters, shuffling, tangents")->capture_default_str();
  app.add_option("--teacher-epochs", teacher_epochs)->capture_default_str();
  app.add_option("--epochs", epochs, "student epochs, with and without NTKD")
      ->capture_default_str();
  app.add_option("--lr", lr, "student and teacher Adam rate (cosine-decayed)")
      ->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--beta", ntkd.beta, "weight of the kernel distance")->capture_default_str();
  app.add_option("--tangents", ntkd.kernel.tangents, "random tangents per kernel estimate")
      ->capture_default_str();
  app.add_option("--kernel-step", ntkd.kernel.step, "norm of each tangent's perturbation")
      ->capture_default_str();
  app.add_option("--finetune-samples", finetune_samples,
                 "training images measured on the fabricated chip")
      ->capture_default_str();
  app.add_option("--finetune-epochs", finetune_epochs)->capture_default_str();
  app.add_option("--finetune-lr", finetune_lr)->capture_default_str();
  app.add_option("--train", train_limit, "training images (0: all 60,000)")->capture_default_str();
  app.add_option("--test", test_limit, "test images (0: all 10,000)")->capture_default_str();
  app.add_option("--data", data_dir, "Fashion-MNIST directory");
  app.add_option("--label", label, "free text copied into every line");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  spdlog::set_level(spdlog::level::warn);
  const auto fail = phc::testing::PrintFailure;
  if (absl::Status s = onn::ValidateNtkdOptions(ntkd); !s.ok()) return fail(s);

  absl::StatusOr<onn::Model> teacher = BuildFrom(teacher_path, onn::Realisation::kDigital, seed);
  if (!teacher.ok()) return fail(teacher.status());
  absl::StatusOr<onn::Model> student = BuildFrom(student_path, onn::Realisation::kOptical, seed);
  if (!student.ok()) return fail(student.status());
  const Eigen::VectorXd initial = student->Parameters();
  absl::StatusOr<onn::ModelData> data =
      onn::LoadModelData(student->spec(), data_dir, train_limit, test_limit);
  if (!data.ok()) return fail(data.status());
  absl::StatusOr<onn::ModelData> teacher_data =
      onn::LoadModelData(teacher->spec(), data_dir, train_limit, test_limit);
  if (!teacher_data.ok()) return fail(teacher_data.status());
  if (teacher_data->train.labels != data->train.labels) {
    return fail(absl::InvalidArgumentError("teacher and student read different training sets"));
  }

  char head[512];
  std::snprintf(head, sizeof head,
                "{\"benchmark\": \"ntkd_model\", \"student\": \"%s\", \"teacher\": \"%s\", "
                "\"label\": \"%s\", \"seed\": %llu, \"beta\": %g, \"tangents\": %d, "
                "\"train\": %d, \"test\": %d",
                student->spec().name().c_str(), teacher->spec().name().c_str(), label.c_str(),
                static_cast<unsigned long long>(seed), ntkd.beta, ntkd.kernel.tangents,
                data->train.size(), data->test.size());
  std::string chip_fields;  // the fabrication's chip, in its rows
  auto report = [&](const char* stage, double accuracy, double seconds) {
    std::printf("%s%s, \"stage\": \"%s\", \"accuracy\": %.4f, \"wall_s\": %.1f}\n", head,
                chip_fields.c_str(), stage, accuracy, seconds);
    std::fflush(stdout);
  };
  // How far the student's tangent kernel is from the teacher's on test
  // images: the mean normalised distance over 8 batches, both kernels
  // estimated with 64 tangents (the training loss's term, less noisy).
  auto kernel_distance = [&]() {
    std::mt19937_64 rng(seed ^ 0x6b64ULL);
    const int rows = std::min(batch, data->test.size());
    double sum = 0.0;
    for (int b = 0; b < 8; ++b) {
      const int first = (b * rows) % std::max(1, data->test.size() - rows + 1);
      const onn::TangentKernelOptions precise{.tangents = 64, .step = ntkd.kernel.step};
      const Eigen::MatrixXd t = onn::EstimateTangentKernel(
          *teacher, teacher_data->test.features.middleRows(first, rows), precise, rng);
      const Eigen::MatrixXd k = onn::EstimateTangentKernel(
          *student, data->test.features.middleRows(first, rows), precise, rng);
      sum += phc::trainers::diff::NormalisedKernelDistance(t, k, nullptr);
    }
    return sum / 8.0;
  };
  auto report_student = [&](const char* stage, double accuracy, double seconds) {
    std::printf(
        "%s, \"stage\": \"%s\", \"accuracy\": %.4f, \"kernel_distance\": %.4f, "
        "\"wall_s\": %.1f}\n",
        head, stage, accuracy, kernel_distance(), seconds);
    std::fflush(stdout);
  };
  auto progress = [](const char* what) {
    return [what](const onn::EpochReport& r) {
      std::fprintf(stderr, "%s epoch %d/%d: loss %.4f, test %.4f (%.1f s)\n", what, r.epoch,
                   r.epochs, r.train_loss, r.test_accuracy, r.seconds);
    };
  };

  auto start = Clock::now();
  absl::StatusOr<onn::InSilicoResult> taught = onn::TrainInSilico(
      *teacher, teacher_data->train, teacher_data->test,
      {.epochs = teacher_epochs, .batch_size = batch, .learning_rate = lr, .seed = seed},
      progress("teacher"));
  if (!taught.ok()) return fail(taught.status());
  report("teacher", taught->test_accuracy, Seconds(start));

  const onn::InSilicoOptions student_options{
      .epochs = epochs, .batch_size = batch, .learning_rate = lr, .seed = seed};
  start = Clock::now();
  absl::StatusOr<onn::InSilicoResult> plain = onn::TrainInSilico(
      *student, data->train, data->test, student_options, progress("student (CE)"));
  if (!plain.ok()) return fail(plain.status());
  report_student("student_without_ntkd", plain->test_accuracy, Seconds(start));
  const Eigen::VectorXd plain_parameters = student->Parameters();

  student->SetParameters(initial);
  onn::InSilicoOptions distilled_options = student_options;
  distilled_options.loss =
      onn::NtkdMinibatchLoss(*teacher, teacher_data->train.features, ntkd, 0, seed ^ 0x6e746b64ULL);
  start = Clock::now();
  absl::StatusOr<onn::InSilicoResult> distilled = onn::TrainInSilico(
      *student, data->train, data->test, distilled_options, progress("student (NTKD)"));
  if (!distilled.ok()) return fail(distilled.status());
  report_student("student_with_ntkd", distilled->test_accuracy, Seconds(start));
  const Eigen::VectorXd distilled_parameters = student->Parameters();

  // Fabrication: the frontend (layer 0, the optical convolution) on each chip.
  const int tune_count = std::min(finetune_samples, data->train.size());
  phc::trainers::Dataset tune{
      .features = data->train.features.topRows(tune_count),
      .labels = {data->train.labels.begin(), data->train.labels.begin() + tune_count}};
  const Eigen::MatrixXd tune_teacher_inputs = teacher_data->train.features.topRows(tune_count);
  auto Fabricate = [&](const phc::testing::PaperChipOptions& options) -> absl::Status {
    absl::StatusOr<phc::testing::PaperChip> made = phc::testing::MakePaperChip(*student, options);
    if (!made.ok()) return made.status();
    phc::trainers::Dataset measured_tune = tune, measured_test = data->test;
    const absl::Status ran = made->bench.controller->RunSync([&]() -> absl::Status {
      phc::daemon::ControllerOracle oracle(*made->bench.controller, 1);
      const std::vector<double> zero_power(made->bench.controller->phase_model().bias_rad().begin(),
                                           made->bench.controller->phase_model().bias_rad().end());
      auto measure = [&](const Eigen::MatrixXd& images) -> absl::StatusOr<Eigen::MatrixXd> {
        if (absl::Status s = oracle.SetPhases(
                onn::DeployedPhases(*student, made->layout, made->placement, zero_power));
            !s.ok()) {
          return s;
        }
        return onn::ChipLayerForward(*student, 0, made->placement, oracle, images);
      };
      // The student without NTKD, fabricated as well (no compensation).
      student->SetParameters(plain_parameters);
      absl::StatusOr<Eigen::MatrixXd> plain_test = measure(data->test.features);
      if (!plain_test.ok()) return plain_test.status();
      phc::trainers::Dataset plain_measured{.features = *plain_test, .labels = data->test.labels};
      report("fabricated_without_ntkd", onn::EvaluateAccuracy(*student, plain_measured, 256, 1), 0);

      student->SetParameters(distilled_parameters);
      auto phase_start = Clock::now();
      absl::StatusOr<Eigen::MatrixXd> test = measure(data->test.features);
      if (!test.ok()) return test.status();
      absl::StatusOr<Eigen::MatrixXd> train = measure(tune.features);
      if (!train.ok()) return train.status();
      measured_test.features = *test;
      measured_tune.features = *train;
      report("fabricated", onn::EvaluateAccuracy(*student, measured_test, 256, 1),
             Seconds(phase_start));
      return absl::OkStatus();
    });
    if (!ran.ok()) return ran;

    const onn::InSilicoOptions tune_options{.epochs = finetune_epochs,
                                            .batch_size = batch,
                                            .learning_rate = finetune_lr,
                                            .seed = seed,
                                            .first_layer = 1};
    auto start = Clock::now();
    absl::StatusOr<onn::InSilicoResult> tuned_ce = onn::TrainInSilico(
        *student, measured_tune, measured_test, tune_options, progress("fine-tune (CE)"));
    if (!tuned_ce.ok()) return tuned_ce.status();
    report("finetuned_ce", tuned_ce->test_accuracy, Seconds(start));

    student->SetParameters(distilled_parameters);
    onn::InSilicoOptions tune_ntkd = tune_options;
    tune_ntkd.loss =
        onn::NtkdMinibatchLoss(*teacher, tune_teacher_inputs, ntkd, 1, seed ^ 0x66696e65ULL);
    start = Clock::now();
    absl::StatusOr<onn::InSilicoResult> tuned_ntkd = onn::TrainInSilico(
        *student, measured_tune, measured_test, tune_ntkd, progress("fine-tune (NTKD)"));
    if (!tuned_ntkd.ok()) return tuned_ntkd.status();
    report("finetuned_ntkd", tuned_ntkd->test_accuracy, Seconds(start));
    return absl::OkStatus();
  };
  for (const std::string& chip : chips) {
    if (chip == "chip") {
      chip_options.noise = "chip";
      chip_options.noise_scale = 1.0;
    } else if (chip.starts_with("paper:")) {
      chip_options.noise = "paper";
      chip_options.noise_scale = std::stod(chip.substr(6));
    } else {
      return fail(absl::InvalidArgumentError("--chips: paper:SCALE or chip, got " + chip));
    }
    char fields[160];
    std::snprintf(fields, sizeof fields,
                  ", \"noise\": \"%s\", \"noise_scale\": %g, \"chip_seed\": %llu",
                  chip_options.noise.c_str(), chip_options.noise_scale,
                  static_cast<unsigned long long>(chip_options.chip_seed));
    chip_fields = fields;
    if (absl::Status s = Fabricate(chip_options); !s.ok()) return fail(s);
  }
  return 0;
}
