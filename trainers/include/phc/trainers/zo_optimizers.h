// Zeroth-order optimizers: they see the loss only through evaluations on the
// chip, never a gradient. Each is deterministic given its seed and the step
// number, so a run resumed from a checkpoint draws the same perturbations.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace phc::trainers {

// The training loss at `params` on the present minibatch. One call is one
// "function query" (it may send many input patterns to the chip).
using LossFn = std::function<absl::StatusOr<double>(std::span<const double> params)>;

// Heater power, per parameter, in mW, at `params` (the oracle's model).
using PowerFn = std::function<std::vector<double>(std::span<const double> params)>;

struct StepResult {
  double loss = 0.0;    // at the parameters the step started from
  int evaluations = 0;  // loss evaluations the step made
  int changed = 0;      // parameters the step moved
};

class ZoOptimizer {
 public:
  virtual ~ZoOptimizer() = default;
  virtual std::string name() const = 0;
  // One iteration: params are updated in place. `step` numbers iterations
  // from 0; it seeds the step's random draws.
  virtual absl::StatusOr<StepResult> Step(std::vector<double>& params, const LossFn& loss,
                                          std::int64_t step) = 0;
  // State beyond the parameters (e.g. momentum) for checkpoints.
  virtual std::vector<double> SaveState() const { return {}; }
  // Whether `state` (from SaveState) fits an optimizer of `param_count`
  // parameters. RestoreState REQUIRES StateFits(state, param_count).
  virtual bool StateFits(std::span<const double> state, std::size_t /*param_count*/) const {
    return state.empty();
  }
  virtual void RestoreState(std::span<const double> /*state*/) {}
};

struct CoordinateZoOptions {
  double learning_rate = 0.1;
  double perturbation = 0.05;  // rad
  int coordinates_per_step = 16;
  double decay = 1.0;  // learning rate x decay every step
  std::uint64_t seed = 1;
};

// Dense coordinate-wise ZO: each step draws coordinates uniformly from all
// parameters and estimates each partial derivative by a central difference,
// (f(x + d e_i) - f(x - d e_i)) / 2d: 2 evaluations per coordinate.
std::unique_ptr<ZoOptimizer> MakeCoordinateZo(const CoordinateZoOptions& options);

struct GaussianZoOptions {
  double learning_rate = 0.02;
  double perturbation = 0.05;  // rad, the smoothing radius mu
  int samples_per_step = 4;    // random directions averaged per step
  bool spsa = false;           // Rademacher (+-1) directions instead of N(0, I)
  double momentum = 0.0;
  double decay = 1.0;
  std::uint64_t seed = 1;
};

// Randomised-direction ZO (FLOPS-style Gaussian smoothing, or SPSA with
// Rademacher directions): g = (1/Q) sum_q (f(x + mu u_q) - f(x)) / mu u_q,
// Q + 1 evaluations per step, then x -= lr (g + momentum).
std::unique_ptr<ZoOptimizer> MakeGaussianZo(const GaussianZoOptions& options);

}  // namespace phc::trainers
