#include "phc/trainers/algorithms.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace phc::trainers {
namespace {

double Or(double value, double fallback) { return value > 0.0 ? value : fallback; }

}  // namespace

absl::StatusOr<std::unique_ptr<ZoOptimizer>> MakeOptimizer(const AlgorithmConfig& c,
                                                           const OnnModel& model,
                                                           const ChipOracle& oracle) {
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
  if (c.name == "sparse_zo") {
    const SparseZoOptions options{.step_rad = Or(c.learning_rate, 0.05),
                                  .min_step_rad = std::min(Or(c.learning_rate, 0.05), 0.0245),
                                  .decay = 0.999,
                                  .param_sparsity = c.param_sparsity,
                                  .grad_sparsity = c.grad_sparsity,
                                  .power_aware = c.power_aware,
                                  .power_budget_mw = c.power_budget_mw,
                                  .seed = c.seed};
    if (absl::Status s = ValidateSparseZoOptions(options); !s.ok()) return s;
    std::vector<int> chip_index = model.trainable_phases();
    return MakeSparseZo(options, model.attenuator_phases(),
                        [&oracle, chip_index = std::move(chip_index)](int i, double phase) {
                          return oracle.PhasePowerMw(chip_index[i], phase);
                        });
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "algorithm \"", c.name, "\" is not one of coordinate_zo, gaussian_zo, spsa, sparse_zo"));
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
