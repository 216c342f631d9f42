// GIFT: adapting a model trained in silico under a misspecified noise model
// to the chip it was deployed on, in situ, from the chip's measured noise
// structure (Kosmella, Stabile, Sanders 2025). Only the paper's abstract was
// readable; everything below is our construction from it (docs/in_situ.md
// says which parts):
//  1. EstimateNoiseStructure: each optical layer is measured on the chip,
//     `repeats` times on the chip's own activations. The spread between
//     repeats is the readout noise; what remains of the mean's deviation
//     from the model is explained as Gaussian phase noise, and its standard
//     deviation per layer is found by matching the model's predicted
//     deviation under that noise (Monte Carlo, refined to a fixed point).
//  2. GiftTrainer::Step: a gradient step on the expected loss under the
//     measured noise, E_delta L(theta + delta) with delta ~ N(0, sigma_l^2)
//     per layer, estimated from `draws` noise draws on a minibatch. The
//     step is applied only if two sufficient conditions hold: the mean
//     gradient is larger than its own Monte Carlo error (so it is a descent
//     direction of the expected loss), and the step decreases the same
//     draws' loss by Armijo's fraction of the predicted decrease
//     (backtracking). Otherwise the parameters are left as they were.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/diff/network.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

struct NoiseEstimationOptions {
  int repeats = 4;              // chip measurements of each layer, >= 2
  int draws = 64;               // Monte Carlo draws for the model's prediction (few bias sigma up)
  double probe_std_rad = 0.02;  // first guess of the phase noise
  int refinements = 3;          // fixed-point iterations of the match
  std::uint64_t seed = 1;
};

struct LayerNoise {
  std::size_t layer = 0;  // index into Model::layers()
  // Mean square over outputs of (mean of the repeats - the model's output).
  double deviation_ms = 0.0;
  // Mean over outputs of the variance between repeats (readout noise).
  double readout_variance = 0.0;
  // The phase noise that explains the deviation not due to readout noise.
  double phase_std_rad = 0.0;
};

struct NoiseStructure {
  std::vector<LayerNoise> layers;  // optical layers in model order
  std::int64_t queries = 0;        // chip queries the estimate spent
};

// INVALID_ARGUMENT for options out of range, probe rows that do not fit
// the model or a model without optical layers. The chip's phases must be
// the deployed ones.
absl::StatusOr<NoiseStructure> EstimateNoiseStructure(Model& model, const ChipPlacement& placement,
                                                      ChipOracle& oracle,
                                                      const Eigen::MatrixXd& probe,
                                                      const NoiseEstimationOptions& options);

struct GiftOptions {
  int draws = 4;                // noise draws per step (doubled, up to 64, after a refused step)
  double learning_rate = 1e-3;  // Adam's first trial step
  double armijo = 1e-4;         // fraction of the predicted decrease required
  int backtracks = 4;           // halvings of the step before refusing it
  double signal_ratio = 1.0;    // |g|^2 must exceed this x the Monte Carlo error
  std::uint64_t seed = 1;
};

struct GiftStep {
  double expected_loss = 0.0;    // before the step, on the minibatch's draws
  double loss_after = 0.0;       // after it (== expected_loss when refused)
  double step_scale = 0.0;       // fraction of the trial step taken (0: refused)
  double signal_to_noise = 0.0;  // |g|^2 / (Monte Carlo error of g)^2
  int draws = 0;
  bool applied = false;
  std::string refused_because;  // empty when applied
};

// INVALID_ARGUMENT naming the option and its range.
absl::Status ValidateGiftOptions(const GiftOptions& options);

class GiftTrainer {
 public:
  // REQUIRES: ValidateGiftOptions(options).ok(); `model` outlives this.
  GiftTrainer(Model& model, NoiseStructure noise, const GiftOptions& options);

  GiftStep Step(const Eigen::MatrixXd& features, std::span<const int> labels);

  const NoiseStructure& noise() const { return noise_; }
  int draws() const { return draws_; }
  // Step counts, draws and Adam moments, for checkpoints.
  std::vector<double> SaveState() const;
  absl::Status RestoreState(std::span<const double> state);

 private:
  // Mean loss over the draws of seed `draw_seed` (the same draws for every
  // call with the same seed); with `gradient`, also the per-draw gradients.
  double ExpectedLoss(const Eigen::MatrixXd& features, std::span<const int> labels,
                      std::uint64_t draw_seed, int draws, Eigen::MatrixXd* gradients);

  Model& model_;
  NoiseStructure noise_;
  GiftOptions options_;
  int draws_;
  diff::Adam adam_;         // learning rate 1: its step is the direction
  std::int64_t calls_ = 0;  // steps tried
};

}  // namespace phc::trainers::onn
