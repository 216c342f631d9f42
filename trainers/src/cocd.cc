#include <algorithm>
#include <cmath>
#include <utility>

#include "phc/trainers/central_difference.h"
#include "phc/trainers/trained_set.h"
#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {
namespace {

class Cocd final : public ZoOptimizer {
 public:
  explicit Cocd(CocdOptions options) : options_(std::move(options)) {}
  std::string name() const override { return trained_.everything() ? "cocd" : "sparse_cocd"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    const std::vector<int>& trained = Trained(params.size());
    StepResult result;
    if (trained.empty()) return result;
    // The cycle's position depends only on the step, so a resumed run
    // refreshes the same coordinates. The fresh partials are measured
    // first: a failed evaluation leaves the optimizer as it was.
    const auto count = static_cast<std::int64_t>(trained.size());
    const int block = static_cast<int>(std::min<std::int64_t>(options_.block, count));
    const double eps = options_.perturbation;
    std::vector<std::pair<std::size_t, double>> fresh;
    double probe_sum = 0.0;
    for (int b = 0; b < block; ++b) {
      const auto slot = static_cast<std::size_t>((step * block + b) % count);
      absl::StatusOr<std::pair<double, double>> probes =
          ProbeBothWays(params, trained[slot], eps, loss);
      if (!probes.ok()) return probes.status();
      const auto [plus, minus] = *probes;
      fresh.emplace_back(slot, (plus - minus) / (2.0 * eps));
      probe_sum += plus + minus;
    }
    if (memory_.size() != trained.size()) memory_.assign(trained.size(), 0.0);
    for (double& partial : memory_) partial *= options_.memory_decay;
    for (const auto& [slot, partial] : fresh) memory_[slot] = partial;
    result.evaluations = 2 * block;
    result.loss = probe_sum / (2 * block);
    for (std::size_t slot = 0; slot < trained.size(); ++slot) {
      if (memory_[slot] == 0.0) continue;
      params[trained[slot]] -= options_.learning_rate * memory_[slot];
      ++result.changed;
    }
    return result;
  }

  std::vector<double> SaveState() const override { return memory_; }
  bool StateFits(std::span<const double> state, std::size_t param_count) const override {
    return state.empty() || state.size() == Trained(param_count).size();
  }
  void RestoreState(std::span<const double> state) override {
    memory_.assign(state.begin(), state.end());
  }

 private:
  // The trained parameters' indices, in the cycle's order.
  const std::vector<int>& Trained(std::size_t param_count) const {
    return trained_.For(param_count);
  }

  CocdOptions options_;
  TrainedSet trained_{options_.active};
  std::vector<double> memory_;  // one stored partial per trained parameter
};

}  // namespace

std::unique_ptr<ZoOptimizer> MakeCocd(CocdOptions options) {
  return std::make_unique<Cocd>(std::move(options));
}

}  // namespace phc::trainers
