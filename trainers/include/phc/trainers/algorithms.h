// Building a training run from names and numbers, as the daemon's
// TrainingService and the benches receive them.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_network.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/sparse_zo.h"
#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {

// Hyper-parameters of every algorithm; each uses the ones it knows.
struct AlgorithmConfig {
  // coordinate_zo | gaussian_zo | spsa | stp | cocd | sparse_cocd | zo_adam | sparse_zo
  std::string name = "sparse_zo";
  double learning_rate = 0.0;     // 0: the algorithm's default
  double perturbation_rad = 0.0;  // 0: default
  int samples_per_step = 0;       // gaussian/spsa directions, coordinate_zo coordinates
  // sparse_zo (SparseZoOptions): alpha, s, p.
  double active_fraction = 0.4;
  double visit_fraction = 0.1;
  double prune_probability = 1.0;
  // sparse_zo: delta x step_decay every decay_every steps; step_decay 0:
  // x0.999 every step down to 0.0245 rad. stp: alpha x step_decay every
  // decay_every steps (0: constant).
  double step_decay = 0.0;
  int decay_every = 1;
  double power_budget_mw = 0.0;  // sparse_zo: trained phases' heater budget
  // cocd, sparse_cocd: gamma, the stored partials' decay per step (0: 0.99).
  // sparse_cocd trains sparse_zo's active set (active_fraction).
  // zo_adam trains sparse_zo's active set (active_fraction), visiting each
  // active phase with probability visit_fraction per step.
  double memory_decay = 0.0;
  std::uint64_t seed = 1;
};

// sparse_zo's options as `config` sets them (defaults filled in).
SparseZoOptions SparseZoOptionsFrom(const AlgorithmConfig& config);

// INVALID_ARGUMENT naming the field for unknown names or bad values.
absl::Status ValidateAlgorithmConfig(const AlgorithmConfig& config);
// The optimizer for `network`'s trainable phases on `oracle`'s chip;
// ValidateAlgorithmConfig's errors.
absl::StatusOr<std::unique_ptr<ZoOptimizer>> MakeOptimizer(const AlgorithmConfig& config,
                                                           const ChipNetwork& network,
                                                           const ChipOracle& oracle);

struct TrainTestSplit {
  Dataset train;
  Dataset test;
  std::string source;  // "fashion-mnist" or "synthetic"
};

// Fashion-MNIST (from FashionMnistDir(fashion_mnist_dir)) reduced to side x
// side low frequencies (the first `classes` classes), at most train_limit /
// test_limit samples; "synthetic" clusters when dataset == "synthetic".
// NOT_FOUND naming the directory when Fashion-MNIST is not there.
absl::StatusOr<TrainTestSplit> LoadTrainingData(
    const std::string& dataset, int features, int classes, int train_limit, int test_limit,
    std::uint64_t seed, const std::filesystem::path& fashion_mnist_dir = {});

}  // namespace phc::trainers
