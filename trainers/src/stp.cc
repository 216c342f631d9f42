#include <cmath>
#include <random>

#include "phc/trainers/step_random.h"
#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {
namespace {

class Stp final : public ZoOptimizer {
 public:
  explicit Stp(const StpOptions& options) : options_(options) {}
  std::string name() const override { return "stp"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    std::mt19937_64 rng = StepRandom(options_.seed, step);
    const std::size_t n = params.size();
    std::vector<double> direction(n);
    std::normal_distribution<double> gaussian;
    double norm = 0.0;
    for (double& d : direction) {
      d = gaussian(rng);
      norm += d * d;
    }
    norm = std::sqrt(norm);
    const double alpha =
        options_.step_rad *
        std::pow(options_.decay, static_cast<double>(step / std::max(1, options_.decay_every)));
    StepResult result;
    absl::StatusOr<double> f0 = loss(params);
    if (!f0.ok()) return f0.status();
    result.loss = *f0;
    double best = *f0, best_sign = 0.0;
    std::vector<double> probe(n);
    for (const double sign : {1.0, -1.0}) {
      for (std::size_t i = 0; i < n; ++i) probe[i] = params[i] + sign * alpha * direction[i] / norm;
      absl::StatusOr<double> f = loss(probe);
      if (!f.ok()) return f.status();
      if (*f < best) {
        best = *f;
        best_sign = sign;
      }
    }
    result.evaluations = 3;
    if (best_sign != 0.0) {
      for (std::size_t i = 0; i < n; ++i) params[i] += best_sign * alpha * direction[i] / norm;
      result.changed = static_cast<int>(n);
    }
    return result;
  }

 private:
  StpOptions options_;
};

}  // namespace

std::unique_ptr<ZoOptimizer> MakeStp(const StpOptions& options) {
  return std::make_unique<Stp>(options);
}

}  // namespace phc::trainers
