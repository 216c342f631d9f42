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

struct StpOptions {
  double step_rad = 0.5;  // alpha: the Euclidean length of a trial step
  double decay = 1.0;     // alpha x decay every decay_every steps
  int decay_every = 1;
  std::uint64_t seed = 1;
};

// Stochastic Three Points (Bergou, Gorbunov and Richtarik, SIAM J. Optim.
// 2020): draw a direction s uniformly on the unit sphere and keep the best
// of x, x + alpha s and x - alpha s on the present minibatch: 3 evaluations
// per step (f(x) is measured again, since the minibatch changes).
std::unique_ptr<ZoOptimizer> MakeStp(const StpOptions& options);

struct CocdOptions {
  double learning_rate = 0.01;
  double perturbation = 0.05;  // rad, the finite-difference eps
  int block = 8;               // B: coordinates refreshed per step
  double memory_decay = 0.99;  // gamma: every stored partial x gamma per step
  // Which parameters are trained (empty: all). Inactive ones are never
  // probed or moved: power-aware sparsity's mixed training.
  std::vector<bool> active;
};

// Coherent Coordinate Descent (CoCD, ICML 2026; the authors' code
// chen-dylan-liang/CoCD, cocd.py): the trained parameters are visited in a
// fixed cycle, B per step, each by a central difference at the step's x
// (2B evaluations); every stored partial derivative is first multiplied by
// gamma, the fresh ones replace theirs, and then every parameter moves by
// -lr times its stored partial, stale ones included. Its memory holds one
// partial per trained parameter (the authors' default M = N). The step's
// loss is reported as the mean of the probes' losses (f(x) + O(eps^2)):
// CoCD does not measure f(x) itself.
std::unique_ptr<ZoOptimizer> MakeCocd(CocdOptions options);

struct ZoAdamOptions {
  double learning_rate = 1e-3;  // eta
  double perturbation = 0.02;   // rad, the central difference's h
  double visit_fraction = 1.0;  // s: each trained parameter visited with this probability per step
  std::vector<bool> active;     // which parameters are trained (empty: all)
  std::uint64_t seed = 1;
};

// ZOO-ADAM, the zeroth-order coordinate-wise Adam of Chen et al., "ZOO:
// Zeroth Order Optimization Based Black-box Attacks" (AISec 2017), the
// "ZADAM" row of Gu et al.'s Tables 1 and 2: every step visits each trained
// parameter with probability s (at least one), estimates its partial by a
// central difference at the step's x (2 evaluations per visited parameter),
// then moves each visited one by Adam's bias-corrected update with its own
// moments and update count (beta1 0.9, beta2 0.999, epsilon 1e-8, ZOO's). The step's loss is the
// mean of the probes'.
std::unique_ptr<ZoOptimizer> MakeZoAdam(ZoAdamOptions options);

}  // namespace phc::trainers
