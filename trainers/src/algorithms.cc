#include "phc/trainers/algorithms.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace phc::trainers {
namespace {

double Or(double value, double fallback) { return value > 0.0 ? value : fallback; }

}  // namespace

SparseZoOptions SparseZoOptionsFrom(const AlgorithmConfig& c) {
  const double step = Or(c.learning_rate, c.step_decay > 0.0 ? 0.02 : 0.05);
  return {.step_rad = step,
          .min_step_rad = c.step_decay > 0.0 ? std::min(step, 1e-4) : std::min(step, 0.0245),
          .decay = c.step_decay > 0.0 ? c.step_decay : 0.999,
          .decay_every = c.step_decay > 0.0 ? c.decay_every : 1,
          .active_fraction = c.active_fraction,
          .visit_fraction = c.visit_fraction,
          .prune_probability = c.prune_probability,
          .power_budget_mw = c.power_budget_mw,
          .seed = c.seed};
}

absl::Status ValidateAlgorithmConfig(const AlgorithmConfig& c) {
  if (!(c.learning_rate >= 0.0 && c.learning_rate <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate = ", c.learning_rate, " must be in [0, 100]"));
  }
  if (!(c.perturbation_rad >= 0.0 && c.perturbation_rad <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("perturbation_rad = ", c.perturbation_rad, " must be in [0, 1]"));
  }
  if (c.samples_per_step < 0 || c.samples_per_step > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("samples_per_step = ", c.samples_per_step, " must be in [0, 100000]"));
  }
  if (!(c.step_decay >= 0.0 && c.step_decay <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("step_decay = ", c.step_decay, " must be in (0, 1]"));
  }
  if (c.name == "sparse_zo") return ValidateSparseZoOptions(SparseZoOptionsFrom(c));
  if (!(c.memory_decay >= 0.0 && c.memory_decay <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory_decay = ", c.memory_decay, " must be in [0, 1]"));
  }
  if ((c.name == "sparse_cocd" || c.name == "zo_adam") &&
      !(c.active_fraction > 0.0 && c.active_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("active_fraction = ", c.active_fraction, " must be in (0, 1]"));
  }
  if (c.name == "coordinate_zo" || c.name == "gaussian_zo" || c.name == "spsa" || c.name == "stp" ||
      c.name == "cocd" || c.name == "sparse_cocd") {
    return absl::OkStatus();
  }
  if (c.name == "zo_adam") {
    if (!(c.visit_fraction > 0.0 && c.visit_fraction <= 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("visit_fraction = ", c.visit_fraction, " must be in (0, 1]"));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("algorithm \"", c.name,
                   "\" is not one of coordinate_zo, gaussian_zo, "
                   "spsa, stp, cocd, sparse_cocd, zo_adam, sparse_zo"));
}

absl::StatusOr<std::unique_ptr<ZoOptimizer>> MakeOptimizer(const AlgorithmConfig& c,
                                                           const ChipNetwork& network,
                                                           const ChipOracle& oracle) {
  if (absl::Status s = ValidateAlgorithmConfig(c); !s.ok()) return s;
  if (c.name == "coordinate_zo") {
    return MakeCoordinateZo(
        {.learning_rate = Or(c.learning_rate, 0.5),
         .perturbation = Or(c.perturbation_rad, 0.05),
         .coordinates_per_step = c.samples_per_step > 0 ? c.samples_per_step : 8,
         .seed = c.seed});
  }
  if (c.name == "gaussian_zo" || c.name == "spsa") {
    return MakeGaussianZo({.learning_rate = Or(c.learning_rate, 0.002),
                           .perturbation = Or(c.perturbation_rad, 0.05),
                           .samples_per_step = c.samples_per_step > 0 ? c.samples_per_step : 4,
                           .spsa = c.name == "spsa",
                           .seed = c.seed});
  }
  if (c.name == "stp") {
    return MakeStp({.step_rad = Or(c.learning_rate, 0.5),
                    .decay = c.step_decay > 0.0 ? c.step_decay : 1.0,
                    .decay_every = c.decay_every,
                    .seed = c.seed});
  }
  if (c.name == "cocd" || c.name == "sparse_cocd") {
    return MakeCocd(
        {.learning_rate = Or(c.learning_rate, 0.01),
         .perturbation = Or(c.perturbation_rad, 0.05),
         .block = c.samples_per_step > 0 ? c.samples_per_step : 8,
         .memory_decay = c.memory_decay > 0.0 ? c.memory_decay : 0.99,
         .active = c.name == "sparse_cocd"
                       ? SparseZoActiveMask(SparseZoOptionsFrom(c), network.attenuator_phases())
                       : std::vector<bool>{}});
  }
  if (c.name == "zo_adam") {
    return MakeZoAdam(
        {.learning_rate = Or(c.learning_rate, 1e-3),
         .perturbation = Or(c.perturbation_rad, 0.02),
         .visit_fraction = c.visit_fraction,
         .active = SparseZoActiveMask(SparseZoOptionsFrom(c), network.attenuator_phases()),
         .seed = c.seed});
  }
  std::vector<int> chip_index = network.trainable_phases();
  return MakeSparseZo(SparseZoOptionsFrom(c), network.attenuator_phases(),
                      [&oracle, chip_index = std::move(chip_index)](int i, double phase) {
                        return oracle.PhasePowerMw(chip_index[i], phase);
                      });
}

absl::StatusOr<TrainTestSplit> LoadTrainingData(const std::string& dataset, int features,
                                                int classes, int train_limit, int test_limit,
                                                std::uint64_t seed,
                                                const std::filesystem::path& fashion_mnist_dir) {
  if (classes < 2 || classes > 10) {
    return absl::InvalidArgumentError(absl::StrCat("classes = ", classes, " must be in [2, 10]"));
  }
  if (train_limit < 1 || test_limit < 1) {
    return absl::InvalidArgumentError("train and test sample counts must be positive");
  }
  TrainTestSplit split;
  split.source = dataset;
  if (dataset == "synthetic") {
    if (features < 1 || features > 4096) {
      return absl::InvalidArgumentError(
          absl::StrCat("features = ", features, " must be in [1, 4096]"));
    }
    split.train = MakeClusters(train_limit, features, classes, 0.15, seed);
    split.test = MakeClusters(test_limit, features, classes, 0.15, seed, 1);
    return split;
  }
  if (dataset != "fashion-mnist") {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset \"", dataset, "\" is not fashion-mnist or synthetic"));
  }
  if (features < 1 || features > 28 * 28) {
    return absl::InvalidArgumentError(
        absl::StrCat("fashion-mnist features = ", features, " must be in [1, 784]"));
  }
  // Fashion-MNIST's classes are balanced; read enough for the first
  // `classes` classes to fill the limits.
  const int scale = (10 + classes - 1) / classes;
  absl::StatusOr<FashionMnist> images =
      LoadFashionMnist(fashion_mnist_dir, train_limit * scale, test_limit * scale);
  if (!images.ok()) return images.status();
  split.train = FirstClasses(ReduceByLowFrequencies(images->train, features), classes);
  split.test = FirstClasses(ReduceByLowFrequencies(images->test, features), classes);
  auto trim = [](Dataset& d, int limit) {
    if (d.size() <= limit) return;
    d.features.conservativeResize(limit, Eigen::NoChange);
    d.labels.resize(limit);
  };
  trim(split.train, train_limit);
  trim(split.test, test_limit);
  ScaleFeaturesLike(split.train, split.test);  // test first: it needs the raw train range
  ScaleFeaturesLike(split.train, split.train);
  return split;
}

}  // namespace phc::trainers
