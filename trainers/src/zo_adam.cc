#include <cmath>
#include <random>
#include <utility>

#include "phc/trainers/central_difference.h"
#include "phc/trainers/step_random.h"
#include "phc/trainers/trained_set.h"
#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {
namespace {

constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kEpsilon = 1e-8;

class ZoAdam final : public ZoOptimizer {
 public:
  explicit ZoAdam(ZoAdamOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "zo_adam"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    const std::vector<int>& trained = Trained(params.size());
    StepResult result;
    if (trained.empty()) return result;
    std::mt19937_64 rng = StepRandom(options_.seed, step);
    std::bernoulli_distribution visit(options_.visit_fraction);
    std::vector<std::size_t> visited;
    for (std::size_t slot = 0; slot < trained.size(); ++slot) {
      if (visit(rng)) visited.push_back(slot);
    }
    if (visited.empty()) {
      visited.push_back(std::uniform_int_distribution<std::size_t>(0, trained.size() - 1)(rng));
    }
    // Every visited partial is measured at the step's x before any moves, so
    // a failed evaluation leaves the parameters and the moments as they were.
    const double h = options_.perturbation;
    std::vector<double> partials;
    double probe_sum = 0.0;
    for (std::size_t slot : visited) {
      absl::StatusOr<std::pair<double, double>> probes =
          ProbeBothWays(params, trained[slot], h, loss);
      if (!probes.ok()) return probes.status();
      const auto [plus, minus] = *probes;
      partials.push_back((plus - minus) / (2.0 * h));
      probe_sum += plus + minus;
    }
    if (first_.size() != trained.size()) {
      first_.assign(trained.size(), 0.0);
      second_.assign(trained.size(), 0.0);
      updates_.assign(trained.size(), 0.0);
    }
    for (std::size_t k = 0; k < visited.size(); ++k) {
      const std::size_t slot = visited[k];
      const double g = partials[k];
      first_[slot] = kBeta1 * first_[slot] + (1.0 - kBeta1) * g;
      second_[slot] = kBeta2 * second_[slot] + (1.0 - kBeta2) * g * g;
      updates_[slot] += 1.0;
      const double m_hat = first_[slot] / (1.0 - std::pow(kBeta1, updates_[slot]));
      const double v_hat = second_[slot] / (1.0 - std::pow(kBeta2, updates_[slot]));
      params[trained[slot]] -= options_.learning_rate * m_hat / (std::sqrt(v_hat) + kEpsilon);
    }
    result.evaluations = 2 * static_cast<int>(visited.size());
    result.loss = probe_sum / result.evaluations;
    result.changed = static_cast<int>(visited.size());
    return result;
  }

  // The first moments, the second moments and the update counts, one per
  // trained parameter each.
  std::vector<double> SaveState() const override {
    std::vector<double> state = first_;
    state.insert(state.end(), second_.begin(), second_.end());
    state.insert(state.end(), updates_.begin(), updates_.end());
    return state;
  }
  bool StateFits(std::span<const double> state, std::size_t param_count) const override {
    return state.empty() || state.size() == 3 * Trained(param_count).size();
  }
  void RestoreState(std::span<const double> state) override {
    const std::size_t n = state.size() / 3;
    first_.assign(state.begin(), state.begin() + n);
    second_.assign(state.begin() + n, state.begin() + 2 * n);
    updates_.assign(state.begin() + 2 * n, state.end());
  }

 private:
  const std::vector<int>& Trained(std::size_t param_count) const {
    return trained_.For(param_count);
  }

  ZoAdamOptions options_;
  TrainedSet trained_{options_.active};
  std::vector<double> first_, second_, updates_;
};

}  // namespace

std::unique_ptr<ZoOptimizer> MakeZoAdam(ZoAdamOptions options) {
  return std::make_unique<ZoAdam>(std::move(options));
}

}  // namespace phc::trainers
