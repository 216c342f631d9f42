// DAT against PAT where the physical system is a twin network with hidden
// Gaussian errors (DAT's error model: every coupler's splitting and every
// phase shifter off by N(0, sigma)), in two layouts of the same meshes:
// each mesh detected on its own ("measured": as on a chip with one mesh,
// time-multiplexed) or all meshes cascaded coherently with only the output
// detected ("coherent": the paper's MPNN). With --arch mpnn the network is
// the authors' MPNN (diff/mpnn.h): complex inputs (the centre of each
// image's Fourier transform), the electro-optic activation between the
// meshes, the normalised intensities of the first 10 modes as logits. JSON
// lines: error-free model, deployed, PAT, DAT.
//
//   build/tests/bench/dat_twin_bench --layout coherent --sigma 0.06 --seed 1
//   build/tests/bench/dat_twin_bench --arch mpnn --modes 64 --sigma 0.04 --seed 1
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "phc/trainers/algorithms.h"
#include "phc/trainers/diff/in_situ_run.h"
#include "phc/trainers/diff/mpnn.h"

namespace {

namespace diff = phc::trainers::diff;

diff::MeshErrors Errors(const photonsim::MziMesh& mesh, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, sigma);
  diff::MeshErrors errors;
  for (int k = 0; k < 2 * mesh.mzi_count(); ++k) errors.splitting_rad.push_back(gauss(rng));
  for (int k = 0; k < mesh.phase_count(); ++k) errors.phase_offset_rad.push_back(gauss(rng));
  return errors;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DAT vs PAT on a twin network with hidden errors, JSON lines"};
  std::string layout = "coherent";
  std::uint64_t seed = 1;
  double sigma = 0.06;
  int modes = 8, meshes = 3, train = 10000, test = 2000, silico_epochs = 20, situ_epochs = 8;
  app.add_option("--layout", layout, "coherent | measured")
      ->check(CLI::IsMember({"coherent", "measured"}));
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--sigma", sigma, "coupler and phase errors, rad")->capture_default_str();
  app.add_option("--modes", modes)->capture_default_str();
  app.add_option("--meshes", meshes)->capture_default_str();
  app.add_option("--train", train)->capture_default_str();
  app.add_option("--test", test)->capture_default_str();
  app.add_option("--silico-epochs", silico_epochs)->capture_default_str();
  app.add_option("--situ-epochs", situ_epochs)->capture_default_str();
  double situ_lr = 0.01, sepn_lr = 0.001;
  std::string sepn = "linear";
  int sepn_warmup_epochs = 1;
  app.add_option("--sepn-warmup-epochs", sepn_warmup_epochs,
                 "DAT: in situ epochs before the predictions enter the forward pass")
      ->capture_default_str();
  app.add_option("--sepn", sepn,
                 "DAT's error-prediction layers: linear (z + A z) or unet (the authors' complex "
                 "U-Net; modes a square of a multiple of 4)")
      ->check(CLI::IsMember({"linear", "unet"}))
      ->capture_default_str();
  app.add_option("--situ-lr", situ_lr, "in situ learning rate")->capture_default_str();
  std::string arch = "blocks", readout = "normalised";
  double silico_lr = 0.01;
  int batch = 100, silico_halving = 0, situ_halving = 0;
  std::string silico_cache;
  bool activation = true;
  app.add_option("--arch", arch,
                 "blocks: real inputs, meshes, a dense readout; mpnn: the authors' MPNN")
      ->check(CLI::IsMember({"blocks", "mpnn"}))
      ->capture_default_str();
  app.add_option("--readout", readout, "mpnn: normalised (the authors') or digital")
      ->check(CLI::IsMember({"normalised", "digital"}))
      ->capture_default_str();
  app.add_option("--activation", activation, "mpnn: the electro-optic activation between meshes")
      ->capture_default_str();
  app.add_option("--silico-lr", silico_lr)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--silico-halving", silico_halving,
                 "in silico: the learning rate halves every this many epochs (0: never)")
      ->capture_default_str();
  app.add_option("--situ-halving", situ_halving,
                 "in situ: both learning rates halve every this many epochs (0: never; the "
                 "authors: 10 of 50)")
      ->capture_default_str();
  app.add_option("--silico-cache", silico_cache,
                 "the trained in silico parameters: read if the file exists, else written")
      ->capture_default_str();
  app.add_option("--sepn-lr", sepn_lr, "DAT's error-prediction learning rate")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const int side = static_cast<int>(std::lround(std::sqrt(modes)));
  if (sepn == "unet" && (side * side != modes || side % 4 != 0)) {
    std::fprintf(stderr,
                 "--sepn unet: --modes must be a square of a multiple of 4 (16, 64, ...)\n");
    return 1;
  }
  const bool mpnn = arch == "mpnn";
  if (mpnn && (side * side != modes || side % 2 != 0 || layout != "coherent")) {
    std::fprintf(stderr, "--arch mpnn: --layout coherent and --modes an even square (16, 64)\n");
    return 1;
  }
  absl::StatusOr<phc::trainers::TrainTestSplit> data;
  if (mpnn) {
    absl::StatusOr<phc::trainers::FashionMnist> images =
        phc::trainers::LoadFashionMnist({}, train, test);
    if (!images.ok()) {
      std::fprintf(stderr, "%s\n", images.status().ToString().c_str());
      return 1;
    }
    data = phc::trainers::TrainTestSplit{diff::CentredFourierFeatures(images->train, side),
                                         diff::CentredFourierFeatures(images->test, side),
                                         "fashion-mnist"};
  } else {
    data = phc::trainers::LoadTrainingData("fashion-mnist", modes, 10, train, test, seed);
  }
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  const bool coherent = layout == "coherent";
  const int blocks = coherent ? 1 : meshes;
  const int per_block = coherent ? meshes : 1;
  auto build = [&](bool predictions) {
    if (mpnn) {
      return diff::BuildMpnn({.modes = modes,
                              .meshes = meshes,
                              .classes = 10,
                              .activation = activation,
                              .digital_readout = readout == "digital",
                              .predictions = predictions,
                              .prediction_kind = sepn == "unet" ? diff::PredictionKind::kUNet
                                                                : diff::PredictionKind::kLinear,
                              .seed = seed});
    }
    return diff::BuildBlockOnn(
        modes, blocks, 10, predictions, seed, per_block,
        sepn == "unet" ? diff::PredictionKind::kUNet : diff::PredictionKind::kLinear);
  };
  diff::Network twin = build(false);
  std::mt19937_64 error_rng(seed + 1000);
  for (diff::MeshLayer* mesh : twin.meshes()) {
    mesh->SetErrors(Errors(mesh->topology(), sigma, error_rng));
  }
  diff::NetworkMeasurer physical(twin);
  auto emit = [&](const char* stage, double accuracy) {
    std::printf(
        "{\"benchmark\": \"dat_twin\", \"arch\": \"%s\", \"layout\": \"%s\", \"sepn\": \"%s\", "
        "\"modes\": %d, \"sigma_rad\": %g, \"seed\": %llu, \"stage\": \"%s\", "
        "\"accuracy\": %.4f}\n",
        arch.c_str(), layout.c_str(), sepn.c_str(), modes, sigma,
        static_cast<unsigned long long>(seed), stage, accuracy);
    std::fflush(stdout);
  };

  diff::TrainOptions options{.epochs = silico_epochs,
                             .batch = batch,
                             .learning_rate = silico_lr,
                             .lr_halving_epochs = silico_halving,
                             .seed = seed};
  diff::Network silico = build(false);
  if (std::ifstream cached(silico_cache, std::ios::binary); !silico_cache.empty() && cached) {
    Eigen::VectorXd parameters(silico.parameter_count());
    cached.read(reinterpret_cast<char*>(parameters.data()),
                static_cast<std::streamsize>(parameters.size() * sizeof(double)));
    if (!cached || cached.peek() != std::char_traits<char>::eof()) {
      std::fprintf(stderr, "%s does not fit this network\n", silico_cache.c_str());
      return 1;
    }
    silico.SetParameters(parameters);
  } else {
    diff::TrainInSilico(silico, data->train, data->test, options, [](const diff::EpochReport& r) {
      std::fprintf(stderr, "in silico epoch %d: loss %.3f, accuracy %.4f\n", r.epoch, r.train_loss,
                   r.accuracy);
    });
    if (!silico_cache.empty()) {
      const Eigen::VectorXd parameters = silico.Parameters();
      std::ofstream(silico_cache, std::ios::binary)
          .write(reinterpret_cast<const char*>(parameters.data()),
                 static_cast<std::streamsize>(parameters.size() * sizeof(double)));
    }
  }
  emit("error_free_model", diff::ModelAccuracy(silico, data->test));
  emit("deployed", *diff::PhysicalAccuracy(silico, physical, data->test));
  const Eigen::VectorXd trained = silico.Parameters();

  options.epochs = situ_epochs;
  options.lr_halving_epochs = situ_halving;
  options.learning_rate = situ_lr;
  options.sepn_learning_rate = sepn_lr;
  options.sepn_warmup_epochs = sepn_warmup_epochs;
  for (const bool dat : {false, true}) {
    diff::Network model = build(dat);
    Eigen::Index k = 0;
    for (const auto& layer : model.layers()) {
      if (layer->optical_correction()) continue;
      for (double& p : layer->parameters()) p = trained(k++);
    }
    const absl::Status s = diff::TrainInSitu(
        model, physical,
        dat ? diff::InSituMethod::kDualAdaptive : diff::InSituMethod::kPhysicsAware, data->train,
        data->test, options, [&](const diff::EpochReport& r) {
          std::fprintf(stderr, "%s epoch %d: loss %.3f, similarity mse %.2e, accuracy %.4f\n",
                       dat ? "dat" : "pat", r.epoch, r.train_loss, r.similarity_mse, r.accuracy);
        });
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    emit(dat ? "dat" : "pat", *diff::PhysicalAccuracy(model, physical, data->test));
  }
  return 0;
}
