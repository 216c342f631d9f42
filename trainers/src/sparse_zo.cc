#include "phc/trainers/sparse_zo.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "phc/trainers/step_random.h"

namespace phc::trainers {
namespace {

class SparseZo final : public ZoOptimizer {
 public:
  SparseZo(const SparseZoOptions& options, std::vector<bool> always_active, PhasePowerFn power)
      : options_(options), always_active_(std::move(always_active)), power_(std::move(power)) {
    const std::vector<bool> mask = SparseZoActiveMask(options_, always_active_);
    for (std::size_t i = 0; i < mask.size(); ++i) {
      if (mask[i]) active_.push_back(static_cast<int>(i));
    }
  }

  std::string name() const override { return "sparse_zo"; }

  absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                  std::int64_t step) override {
    std::mt19937_64 rng = StepRandom(options_.seed, step);
    std::bernoulli_distribution skip(1.0 - options_.visit_fraction);
    const double delta =
        std::max(options_.min_step_rad,
                 options_.step_rad *
                     std::pow(options_.decay, static_cast<double>(step / options_.decay_every)));
    double total_mw = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i)
      total_mw += power_(static_cast<int>(i), params[i]);
    const bool budgeted = options_.power_budget_mw > 0.0;
    auto within_budget = [&](double change_mw) {
      return !budgeted || change_mw <= 0.0 || total_mw + change_mw <= options_.power_budget_mw;
    };

    StepResult result;
    absl::StatusOr<double> first = loss(params);
    if (!first.ok()) return first.status();
    result.loss = *first;
    ++result.evaluations;
    double current = *first;
    for (int i : active_) {
      if (skip(rng)) continue;
      const double v = params[i];
      const double p_v = power_(i, v);
      const double up_mw = power_(i, v + delta) - p_v;
      if (within_budget(up_mw)) {
        params[i] = v + delta;
        absl::StatusOr<double> forward = loss(params);
        if (!forward.ok()) {
          params[i] = v;
          return forward.status();
        }
        ++result.evaluations;
        if (*forward < current) {
          current = *forward;
          total_mw += up_mw;
          ++result.changed;
          continue;
        }
      }
      const double down_mw = power_(i, v - delta) - p_v;
      const bool pruned = (down_mw > 0.0 && Prune(rng)) || !within_budget(down_mw);
      if (pruned) {
        params[i] = v;
        ++pruned_;
        continue;
      }
      params[i] = v - delta;
      absl::StatusOr<double> backward = loss(params);
      if (!backward.ok()) {
        params[i] = v;
        return backward.status();
      }
      ++result.evaluations;
      current = *backward;
      total_mw += down_mw;
      ++result.changed;
    }
    return result;
  }

  // Whether a power-raising backward step is pruned: always at p = 1, never
  // at p = 0 (neither draws, so the step's other draws stay as they were).
  bool Prune(std::mt19937_64& rng) const {
    if (options_.prune_probability >= 1.0) return true;
    if (options_.prune_probability <= 0.0) return false;
    return std::bernoulli_distribution(options_.prune_probability)(rng);
  }

  // Pruned backward steps so far (the mask is re-derived from the seed).
  std::vector<double> SaveState() const override { return {static_cast<double>(pruned_)}; }
  bool StateFits(std::span<const double> state, std::size_t /*param_count*/) const override {
    return state.size() <= 1;
  }
  void RestoreState(std::span<const double> state) override {
    if (!state.empty()) pruned_ = static_cast<std::int64_t>(state[0]);
  }

 private:
  SparseZoOptions options_;
  std::vector<bool> always_active_;
  PhasePowerFn power_;
  std::vector<int> active_;
  std::int64_t pruned_ = 0;
};

}  // namespace

std::vector<bool> SparseZoActiveMask(const SparseZoOptions& options,
                                     const std::vector<bool>& always_active) {
  // Drawn once, from its own stream (step -1).
  std::mt19937_64 rng = StepRandom(options.seed, -1);
  std::bernoulli_distribution frozen(1.0 - options.active_fraction);
  std::vector<bool> mask(always_active.size());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = always_active[i] || !frozen(rng);
  return mask;
}

absl::Status ValidateSparseZoOptions(const SparseZoOptions& o) {
  if (!(o.step_rad > 0.0 && o.step_rad <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("step_rad = ", o.step_rad, " must be in (0, 1]"));
  }
  if (!(o.min_step_rad > 0.0 && o.min_step_rad <= o.step_rad)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_step_rad = ", o.min_step_rad, " must be in (0, step_rad]"));
  }
  if (!(o.decay > 0.0 && o.decay <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("decay = ", o.decay, " must be in (0, 1]"));
  }
  if (o.decay_every < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("decay_every = ", o.decay_every, " must be at least 1"));
  }
  if (!(o.active_fraction > 0.0 && o.active_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "active_fraction = ", o.active_fraction, " must be in (0, 1] (param_sparsity in [0, 1))"));
  }
  if (!(o.visit_fraction > 0.0 && o.visit_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("visit_fraction = ", o.visit_fraction,
                                                   " must be in (0, 1] (grad_sparsity in [0, 1))"));
  }
  if (!(o.prune_probability >= 0.0 && o.prune_probability <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prune_probability = ", o.prune_probability, " must be in [0, 1]"));
  }
  if (!(o.power_budget_mw >= 0.0 && std::isfinite(o.power_budget_mw))) {
    return absl::InvalidArgumentError(
        absl::StrCat("power_budget_mw = ", o.power_budget_mw, " must be finite and >= 0"));
  }
  return absl::OkStatus();
}

std::unique_ptr<ZoOptimizer> MakeSparseZo(const SparseZoOptions& options,
                                          std::vector<bool> always_active, PhasePowerFn power) {
  return std::make_unique<SparseZo>(options, std::move(always_active), std::move(power));
}

}  // namespace phc::trainers
