// Direct feedback alignment on Fashion-MNIST (784 inputs) against
// backpropagation, with the feedback products B e computed digitally, with
// the Gaussian error model of Filipovich et al. (Optica 2022), or on
// simulated microring weight banks through the daemon's ChipController.
// One JSON line per epoch and one per method summary on stdout.
//
//   dfa_bench --methods bp,dfa_digital,dfa_noise,dfa_microring --epochs 10 --seed 1
//
// Setting as the paper's code (Shastri-Lab/dfa_optica_paper): 784-800-800-10,
// ReLU, softmax cross-entropy, SGD lr 0.01 momentum 0.9, batch 64,
// B_l ~ U[-1, 1), feedback B_l e / sqrt(width_l), noise model
// max|e| N(0.03, 0.618). The 10k test images split into 5k validation (first
// half) and 5k test; the reported test accuracy is the best-validation
// epoch's. Training samples are shuffled every epoch.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>

#include "daemon/training/controller_weight_bank.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/dense_network.h"
#include "phc/trainers/feedback_projector.h"
#include "tests/sim_bench.h"

namespace {

using phc::trainers::DenseNetwork;
using phc::trainers::FeedbackProjector;

struct Split {
  Eigen::MatrixXf x;  // features x samples
  std::vector<int> y;
};

struct Data {
  Split train, validation, test;
};

Split ToSplit(const phc::trainers::ImageSet& images, int begin, int end, float mean, float std) {
  Split s;
  s.x = ((images.pixels.middleRows(begin, end - begin).transpose().cast<float>() / 255.0f).array() -
         mean) /
        std;
  s.y.assign(images.labels.begin() + begin, images.labels.begin() + end);
  return s;
}

Data LoadFashionMnist(int train_limit) {
  const auto dir = phc::trainers::FashionMnistDir();
  auto train = phc::trainers::LoadIdx(dir / "train-images-idx3-ubyte.gz",
                                      dir / "train-labels-idx1-ubyte.gz", train_limit);
  auto test =
      phc::trainers::LoadIdx(dir / "t10k-images-idx3-ubyte.gz", dir / "t10k-labels-idx1-ubyte.gz");
  if (!train.ok() || !test.ok()) {
    throw std::runtime_error("Fashion-MNIST: " +
                             (train.ok() ? test.status() : train.status()).ToString());
  }
  const Eigen::MatrixXd scaled = train->pixels / 255.0;
  const float mean = static_cast<float>(scaled.mean());
  const float std = static_cast<float>(std::sqrt((scaled.array() - mean).square().mean()));
  const int n_train = static_cast<int>(train->labels.size());
  const int n_test = static_cast<int>(test->labels.size());
  return {ToSplit(*train, 0, n_train, mean, std), ToSplit(*test, 0, n_test / 2, mean, std),
          ToSplit(*test, n_test / 2, n_test, mean, std)};
}

struct EpochResult {
  double loss = 0.0, validation = 0.0, test = 0.0, angle_deg = 0.0;
};

// One epoch of SGD; `projector` null means backpropagation. The angle is
// the mean over the epoch's batches (every 20th) between the hidden-layer
// update used and the true gradient.
EpochResult TrainEpoch(DenseNetwork& net, phc::trainers::MomentumSgd& sgd,
                       FeedbackProjector* projector, const Data& data, int batch,
                       std::mt19937_64& rng) {
  std::vector<int> order(data.train.y.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  EpochResult r;
  phc::trainers::ForwardCache cache;
  Eigen::MatrixXf x(data.train.x.rows(), batch);
  std::vector<int> y(batch);
  int batches = 0, angles = 0;
  for (std::size_t start = 0; start + batch <= order.size(); start += batch, ++batches) {
    for (int s = 0; s < batch; ++s) {
      x.col(s) = data.train.x.col(order[start + s]);
      y[s] = data.train.y[order[start + s]];
    }
    net.Forward(x, cache);
    double loss = 0.0;
    const Eigen::MatrixXf e = phc::trainers::OutputError(cache.logits(), y, &loss);
    r.loss += loss;
    phc::trainers::Gradients g;
    if (projector == nullptr) {
      g = phc::trainers::BackpropGradients(net, cache, e);
    } else {
      auto products = projector->Project(e);
      if (!products.ok()) throw std::runtime_error(products.status().ToString());
      const auto feedback = phc::trainers::NormaliseFeedback(*std::move(products));
      g = phc::trainers::DfaGradients(net, cache, e, feedback);
      if (batches % 20 == 0) {
        r.angle_deg +=
            phc::trainers::HiddenUpdateAngleDeg(g, phc::trainers::BackpropGradients(net, cache, e));
        ++angles;
      }
    }
    sgd.Step(net, g);
  }
  r.loss /= std::max(1, batches);
  r.angle_deg = angles > 0 ? r.angle_deg / angles : 0.0;
  r.validation = phc::trainers::Accuracy(net, data.validation.x, data.validation.y);
  r.test = phc::trainers::Accuracy(net, data.test.x, data.test.y);
  return r;
}

struct Options {
  int epochs = 10, batch = 64;
  double lr = 0.01, momentum = 0.9, noise_mean = 0.03, noise_std = 0.618, weight_scale = 0.5;
  std::uint64_t seed = 1;
  std::string chip_path;
};

void RunMethod(const std::string& method, const Data& data, const Options& o,
               FeedbackProjector* projector, std::string extra_json) {
  DenseNetwork net({784, 800, 800, 10}, o.seed);
  phc::trainers::MomentumSgd sgd(net, static_cast<float>(o.lr), static_cast<float>(o.momentum));
  std::mt19937_64 rng(o.seed + 1000);
  const auto t0 = std::chrono::steady_clock::now();
  EpochResult best;
  int best_epoch = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const EpochResult r = TrainEpoch(net, sgd, projector, data, o.batch, rng);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "{\"method\": \"%s\", \"seed\": %llu, \"epoch\": %d, \"train_loss\": %.4f, "
        "\"validation_accuracy\": %.4f, \"test_accuracy\": %.4f, \"angle_to_bp_deg\": %.1f, "
        "\"wall_s\": %.1f}\n",
        method.c_str(), static_cast<unsigned long long>(o.seed), epoch, r.loss, r.validation,
        r.test, r.angle_deg, wall);
    std::fflush(stdout);
    if (r.validation > best.validation) {
      best = r;
      best_epoch = epoch;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"summary\": {\"method\": \"%s\", \"seed\": %llu, \"epochs\": %d, \"best_epoch\": %d, "
      "\"test_accuracy\": %.4f, \"validation_accuracy\": %.4f, \"wall_s\": %.1f%s}}\n",
      method.c_str(), static_cast<unsigned long long>(o.seed), o.epochs, best_epoch, best.test,
      best.validation, wall, extra_json.c_str());
  std::fflush(stdout);
}

// Calibrates the bank, programs the feedback matrices and measures how well
// the bank multiplies: weight error, and the error of B e for random error
// vectors in the units of the paper's model (multiples of max|e|).
std::string PrepareMicroringBank(phc::daemon::ChipController& controller,
                                 phc::trainers::WeightBankDevice& bank,
                                 phc::trainers::BankCalibration& calibration,
                                 const std::vector<Eigen::MatrixXf>& feedback, const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  phc::trainers::BankCalibrationOptions cal_options;
  cal_options.sweep_max_power_mw = 0.45 * controller.chip().heater().p_pi_mw();
  auto cal = phc::trainers::CalibrateWeightBank(bank, cal_options, [](double f) {
    std::fprintf(stderr, "dfa_bench: calibrating weight bank %3.0f%%\n", 100 * f);
  });
  if (!cal.ok()) throw std::runtime_error(cal.status().ToString());
  calibration = *std::move(cal);
  const Eigen::MatrixXd targets =
      phc::trainers::MicroringProjector::BankTargets(feedback, o.weight_scale);
  auto programmed = phc::trainers::ProgramWeights(bank, calibration, targets, 8, 8);
  if (!programmed.ok()) throw std::runtime_error(programmed.status().ToString());
  const double calibrate_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Products for random signed error vectors, against the exact B e.
  std::mt19937_64 rng(o.seed + 7);
  std::normal_distribution<double> gauss;
  std::vector<double> all, read_noise;
  double range_lo = 0.0, range_hi = 0.0;
  for (int trial = 0; trial < 200; ++trial) {
    Eigen::VectorXd e(targets.cols());
    for (double& v : e) v = gauss(rng);
    const double scale = e.cwiseAbs().maxCoeff();
    auto measured = phc::trainers::MultiplySigned(bank, calibration,
                                                  std::span<const double>(e.data(), e.size()));
    if (!measured.ok()) throw std::runtime_error(measured.status().ToString());
    const Eigen::VectorXd exact = targets * e / o.weight_scale;
    const Eigen::VectorXd diff = (*measured / o.weight_scale - exact) / scale;
    all.insert(all.end(), diff.begin(), diff.end());
    // Against the weights the bank actually holds: what is left is the
    // reading's noise, the only error DFA feels (a fixed error in B only
    // changes which random B is used).
    const Eigen::VectorXd held = programmed->achieved * e / o.weight_scale;
    const Eigen::VectorXd noise = (*measured / o.weight_scale - held) / scale;
    read_noise.insert(read_noise.end(), noise.begin(), noise.end());
    range_lo = std::min(range_lo, (exact / scale).minCoeff());
    range_hi = std::max(range_hi, (exact / scale).maxCoeff());
  }
  const Eigen::Map<const Eigen::ArrayXd> d(all.data(), static_cast<Eigen::Index>(all.size()));
  const double mean = d.mean();
  const double std = std::sqrt((d - mean).square().mean());
  const Eigen::Map<const Eigen::ArrayXd> rn(read_noise.data(),
                                            static_cast<Eigen::Index>(read_noise.size()));
  const double read_noise_std = std::sqrt((rn - rn.mean()).square().mean());
  const double weight_rms = programmed->rms_error / o.weight_scale;
  const Eigen::ArrayXd weight_error =
      ((programmed->achieved - targets) / o.weight_scale).cwiseAbs().reshaped().array();
  const Eigen::Index rings_off = (weight_error > 0.05).count();
  std::vector<double> sorted(weight_error.begin(), weight_error.end());
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double weight_median = sorted[sorted.size() / 2];
  // Effective bits: log2(range / (sigma sqrt(12))), a uniform quantiser's
  // error having sigma = LSB / sqrt(12). Weights span [-1, 1]; products of
  // B in [-1, 1) with e / max|e| span [-10, 10] over 10 channels.
  const double weight_bits = std::log2(2.0 / (weight_rms * std::sqrt(12.0)));
  const double median_weight_bits = std::log2(2.0 / (weight_median * 1.4826 * std::sqrt(12.0)));
  const double product_bits = std::log2(20.0 / (std * std::sqrt(12.0)));
  const double paper_bits = std::log2(20.0 / (o.noise_std * std::sqrt(12.0)));
  std::ostringstream json;
  json << "{\"microring_bank\": {\"rings\": " << targets.size()
       << ", \"calibration_readings\": " << calibration.readings
       << ", \"program_iterations\": " << programmed->iterations
       << ", \"weight_rms_error\": " << weight_rms
       << ", \"weight_max_error\": " << programmed->max_error / o.weight_scale
       << ", \"weight_median_abs_error\": " << weight_median
       << ", \"rings_off_by_more_than_0_05\": " << rings_off
       << ", \"weight_effective_bits\": " << weight_bits
       << ", \"typical_ring_effective_bits\": " << median_weight_bits
       << ", \"product_error_mean_over_max_e\": " << mean
       << ", \"product_error_std_over_max_e\": " << std
       << ", \"product_effective_bits\": " << product_bits
       << ", \"read_noise_std_over_max_e\": " << read_noise_std
       << ", \"read_noise_effective_bits\": "
       << std::log2(20.0 / (read_noise_std * std::sqrt(12.0)))
       << ", \"paper_model_effective_bits\": " << paper_bits << ", \"product_range_seen\": ["
       << range_lo << ", " << range_hi << "]"
       << ", \"calibrate_and_program_wall_s\": " << calibrate_s << "}}";
  std::printf("%s\n", json.str().c_str());
  std::fflush(stdout);
  return ", \"bank_weight_effective_bits\": " + std::to_string(weight_bits) +
         ", \"bank_product_effective_bits\": " + std::to_string(product_bits);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DFA vs BP on Fashion-MNIST with digital, noise-model and microring feedback"};
  Options o;
  std::string methods = "bp,dfa_digital,dfa_noise,dfa_microring";
  int train_limit = 0;
  o.chip_path = std::string(PHC_SOURCE_DIR) + "/deploy/chips/mrr_dfa.textproto";
  app.add_option("--methods", methods, "bp, dfa_digital, dfa_noise, dfa_microring");
  app.add_option("--epochs", o.epochs)->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed);
  app.add_option("--batch", o.batch)->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr)->check(CLI::PositiveNumber);
  app.add_option("--train-limit", train_limit, "first N training images (0: all 60,000)");
  app.add_option("--chip", o.chip_path, "microring chip description");
  app.add_option("--weight-scale", o.weight_scale, "B is programmed as scale * B")
      ->check(CLI::Range(0.05, 1.0));
  CLI11_PARSE(app, argc, argv);

  const Data data = LoadFashionMnist(train_limit);
  const std::vector<int> hidden = {800, 800};
  const auto feedback = phc::trainers::MakeFeedbackMatrices(hidden, 10, o.seed + 500);
  std::stringstream list(methods);
  for (std::string method; std::getline(list, method, ',');) {
    std::fprintf(stderr, "dfa_bench: %s, %d epochs, seed %llu\n", method.c_str(), o.epochs,
                 static_cast<unsigned long long>(o.seed));
    if (method == "bp") {
      RunMethod(method, data, o, nullptr, "");
    } else if (method == "dfa_digital") {
      phc::trainers::DigitalProjector projector(feedback);
      RunMethod(method, data, o, &projector, "");
    } else if (method == "dfa_noise") {
      phc::trainers::GaussianNoiseProjector projector(feedback, o.noise_mean, o.noise_std,
                                                      o.seed + 900);
      RunMethod(method, data, o, &projector, "");
    } else if (method == "dfa_microring") {
      auto description = phc::testing::LoadChipDescription(o.chip_path);
      if (!description.ok()) throw std::runtime_error(description.status().ToString());
      auto chip = phc::testing::MakeSimBench(*description, o.seed);
      if (!chip.ok()) throw std::runtime_error(chip.status().ToString());
      chip->controller->RunSync([&] {
        auto bank = phc::daemon::ControllerWeightBank::Create(*chip->controller);
        if (!bank.ok()) throw std::runtime_error(bank.status().ToString());
        phc::trainers::BankCalibration calibration;
        const std::string extra =
            PrepareMicroringBank(*chip->controller, *bank, calibration, feedback, o);
        phc::trainers::MicroringProjector projector(feedback, o.weight_scale, *bank,
                                                    std::move(calibration));
        RunMethod(method, data, o, &projector, extra);
        std::printf("{\"microring_bank_readings_total\": %lld}\n",
                    static_cast<long long>(bank->readings()));
      });
    } else {
      std::fprintf(stderr, "dfa_bench: unknown method %s\n", method.c_str());
      return 2;
    }
  }
  return 0;
}
