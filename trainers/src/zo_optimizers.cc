#include "phc/trainers/zo_optimizers.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "phc/trainers/central_difference.h"
#include "phc/trainers/step_random.h"

namespace phc::trainers {
namespace {

class CoordinateZo final : public ZoOptimizer {
 public:
  explicit CoordinateZo(const CoordinateZoOptions& options) : options_(options) {}
  std::string name() const override { return "coordinate_zo"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    std::mt19937_64 rng = StepRandom(options_.seed, step);
    const int n = static_cast<int>(params.size());
    const std::vector<int> chosen = SampleWithoutReplacement(n, options_.coordinates_per_step, rng);
    const double lr = options_.learning_rate * std::pow(options_.decay, static_cast<double>(step));
    StepResult result;
    absl::StatusOr<double> f0 = loss(params);
    if (!f0.ok()) return f0.status();
    result.loss = *f0;
    ++result.evaluations;
    for (int i : chosen) {
      absl::StatusOr<std::pair<double, double>> probes =
          ProbeBothWays(params, i, options_.perturbation, loss);
      if (!probes.ok()) return probes.status();
      const auto [plus, minus] = *probes;
      result.evaluations += 2;
      params[i] -= lr * (plus - minus) / (2.0 * options_.perturbation);
      ++result.changed;
    }
    return result;
  }

 private:
  CoordinateZoOptions options_;
};

class GaussianZo final : public ZoOptimizer {
 public:
  explicit GaussianZo(const GaussianZoOptions& options) : options_(options) {}
  std::string name() const override { return options_.spsa ? "spsa" : "gaussian_zo"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    std::mt19937_64 rng = StepRandom(options_.seed, step);
    const std::size_t n = params.size();
    if (velocity_.size() != n) velocity_.assign(n, 0.0);
    StepResult result;
    absl::StatusOr<double> f0 = loss(params);
    if (!f0.ok()) return f0.status();
    result.loss = *f0;
    ++result.evaluations;
    std::vector<double> gradient(n, 0.0), direction(n), probe(n);
    std::normal_distribution<double> gaussian;
    std::bernoulli_distribution coin;
    for (int q = 0; q < options_.samples_per_step; ++q) {
      for (std::size_t i = 0; i < n; ++i) {
        direction[i] = options_.spsa ? (coin(rng) ? 1.0 : -1.0) : gaussian(rng);
        probe[i] = params[i] + options_.perturbation * direction[i];
      }
      absl::StatusOr<double> f = loss(probe);
      if (!f.ok()) return f.status();
      ++result.evaluations;
      const double scale = (*f - *f0) / options_.perturbation / options_.samples_per_step;
      for (std::size_t i = 0; i < n; ++i) gradient[i] += scale * direction[i];
    }
    const double lr = options_.learning_rate * std::pow(options_.decay, static_cast<double>(step));
    for (std::size_t i = 0; i < n; ++i) {
      velocity_[i] = options_.momentum * velocity_[i] + gradient[i];
      params[i] -= lr * velocity_[i];
    }
    result.changed = static_cast<int>(n);
    return result;
  }

  std::vector<double> SaveState() const override { return velocity_; }
  // Empty before the first step.
  bool StateFits(std::span<const double> state, std::size_t param_count) const override {
    return state.empty() || state.size() == param_count;
  }
  void RestoreState(std::span<const double> state) override {
    velocity_.assign(state.begin(), state.end());
  }

 private:
  GaussianZoOptions options_;
  std::vector<double> velocity_;
};

}  // namespace

std::unique_ptr<ZoOptimizer> MakeCoordinateZo(const CoordinateZoOptions& options) {
  return std::make_unique<CoordinateZo>(options);
}

std::unique_ptr<ZoOptimizer> MakeGaussianZo(const GaussianZoOptions& options) {
  return std::make_unique<GaussianZo>(options);
}

}  // namespace phc::trainers
