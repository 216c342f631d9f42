// In silico training of a papers'-scale ONN model (deploy/models/*.textproto)
// and of its digital twin (free weights, same shape, same training) on
// Fashion-MNIST: per epoch a JSON line on stderr, then one JSON line per
// realisation on stdout with the final test accuracy and the training
// throughput (samples/s).
//
//   build/tests/bench/model_bench --model deploy/models/mlp_64_24_24_10.textproto --seed 1
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"

namespace {

using phc::trainers::onn::Realisation;

const char* Name(Realisation realisation) {
  return realisation == Realisation::kOptical ? "optical" : "digital";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train an ONN model and its digital twin in silico on Fashion-MNIST"};
  std::string model_path, realisations = "both", data_dir, save_path;
  phc::trainers::onn::InSilicoOptions options;
  int train_limit = 0, test_limit = 0;
  app.add_option("--model", model_path)->required()->check(CLI::ExistingFile);
  app.add_option("--realisation", realisations, "optical, digital or both")->capture_default_str();
  app.add_option("--seed", options.seed, "initial phases/weights, shuffling, noise")
      ->capture_default_str();
  app.add_option("--epochs", options.epochs)->capture_default_str();
  app.add_option("--batch", options.batch_size)->capture_default_str();
  app.add_option("--lr", options.learning_rate, "Adam, cosine-decayed")->capture_default_str();
  app.add_option("--phase-noise-std", options.phase_noise_std_rad, "rad, injected per forward")
      ->capture_default_str();
  app.add_option("--train", train_limit, "training images (0: all 60,000)")->capture_default_str();
  app.add_option("--test", test_limit, "test images (0: all 10,000)")->capture_default_str();
  app.add_option("--data", data_dir, "Fashion-MNIST directory (default: see docs/training.md)");
  app.add_option("--save", save_path,
                 "write the optical model's parameters here (text, one per line), for "
                 "model_deploy_bench --params");
  CLI11_PARSE(app, argc, argv);

  const absl::StatusOr<photonic::v1::ModelSpec> spec =
      phc::trainers::onn::LoadModelSpec(model_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  const absl::StatusOr<phc::trainers::FashionMnist> data = phc::trainers::LoadFashionMnist(
      phc::trainers::FashionMnistDir(data_dir), train_limit, test_limit);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", std::string(data.status().message()).c_str());
    return 2;
  }
  const phc::trainers::Dataset train = phc::trainers::onn::ImagesForModel(data->train, *spec);
  const phc::trainers::Dataset test = phc::trainers::onn::ImagesForModel(data->test, *spec);

  std::vector<Realisation> runs;
  if (realisations == "optical" || realisations == "both") runs.push_back(Realisation::kOptical);
  if (realisations == "digital" || realisations == "both") runs.push_back(Realisation::kDigital);
  if (runs.empty()) {
    std::fprintf(stderr, "--realisation must be optical, digital or both\n");
    return 2;
  }
  for (const Realisation realisation : runs) {
    absl::StatusOr<phc::trainers::onn::Model> model =
        phc::trainers::onn::Model::Build(*spec, realisation, options.seed);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
      return 2;
    }
    double seconds = 0.0;
    std::int64_t samples = 0;
    const auto result = phc::trainers::onn::TrainInSilico(
        *model, train, test, options, [&](const phc::trainers::onn::EpochReport& e) {
          seconds += e.seconds;
          samples += e.samples;
          std::fprintf(stderr,
                       "{\"model\": \"%s\", \"realisation\": \"%s\", \"epoch\": %d, "
                       "\"train_loss\": %.4f, \"train_accuracy\": %.4f, \"test_accuracy\": %.4f, "
                       "\"seconds\": %.2f}\n",
                       spec->name().c_str(), Name(realisation), e.epoch, e.train_loss,
                       e.train_accuracy, e.test_accuracy, e.seconds);
        });
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
      return 2;
    }
    if (!save_path.empty() && realisation == Realisation::kOptical) {
      std::ofstream out(save_path);
      out.precision(17);
      const Eigen::VectorXd parameters = model->Parameters();
      for (Eigen::Index i = 0; i < parameters.size(); ++i) out << parameters(i) << "\n";
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", save_path.c_str());
        return 2;
      }
    }
    std::printf(
        "{\"benchmark\": \"model_in_silico\", \"model\": \"%s\", \"realisation\": \"%s\", "
        "\"seed\": %llu, \"epochs\": %d, \"phase_noise_std\": %g, \"train\": %d, \"test\": %d, "
        "\"cores\": %d, \"phases\": %d, \"parameters\": %d, \"test_accuracy\": %.4f, "
        "\"train_samples_per_s\": %.0f}\n",
        spec->name().c_str(), Name(realisation), static_cast<unsigned long long>(options.seed),
        options.epochs, options.phase_noise_std_rad, train.size(), test.size(), model->core_count(),
        model->phase_count(), model->parameter_count(), result->test_accuracy,
        samples / std::max(seconds, 1e-9));
    std::fflush(stdout);
  }
  return 0;
}
