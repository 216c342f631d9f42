// Physics-aware training (PAT) and dual adaptive training (DAT) of a model
// deployed on a chip, in situ.
//
// PAT (Wright et al. 2022): per minibatch the forward pass runs on the chip
// layer by layer (each optical layer measured on the chip's activations of
// the layer before), the backward pass through the model at those
// activations (onn::ChipLossAndGradients does the same in one call).
//
// DAT (Zheng et al. 2023) adds one error prediction per optical layer,
// fitted to the chip from the same measurements: a residual affine map over
// the layer's output channels, y_pred = y (I + C)^T + b, the model-level
// form of the authors' residual network after each mesh. Our construction,
// not the paper's:
//  - the prediction is affine and acts per output position (a
//    convolution's channels at each position; a linear layer's outputs);
//  - it is fitted in closed form, by ridge regression of the measured
//    outputs on the model's outputs for the same measured inputs, over
//    every minibatch so far with exponential forgetting (recursive least
//    squares), instead of by Adam on the MSE;
//  - since the forward pass is measured, the prediction changes only the
//    backward pass: dL/dy = dL/dy_pred (I + C). It enters after
//    `warmup_steps` steps, as the authors' SEPN enters the forward pass
//    after a warm-up.
//
// Thread safety: none; a trainer belongs to one run.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/diff/network.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

// One optical layer's error prediction: outputs are rows of `channels` x
// `positions` values, channel-major (a linear layer: positions 1).
class LayerCorrection {
 public:
  LayerCorrection(int channels, int positions);

  int channels() const { return channels_; }
  int positions() const { return positions_; }
  // C (channels x channels) and b (channels); both 0 until the first Fit.
  const Eigen::MatrixXd& mixing() const { return mixing_; }
  const Eigen::VectorXd& offset() const { return offset_; }

  // y (I + C)^T + b at every position. REQUIRES: y.cols() == channels * positions.
  Eigen::MatrixXd Apply(const Eigen::MatrixXd& y) const;
  // dL/dy from dL/d(Apply(y)).
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_corrected) const;
  // Adds the rows (the model's outputs and the chip's for the same inputs)
  // to the regression, after weighting the earlier rows by `forgetting`,
  // and solves it with a ridge of `ridge` x the mean diagonal of the Gram
  // matrix. REQUIRES: equal shapes.
  void Fit(const Eigen::MatrixXd& model_y, const Eigen::MatrixXd& measured_y, double forgetting,
           double ridge);
  // Mean square of Apply(model_y) - measured_y.
  double Mse(const Eigen::MatrixXd& model_y, const Eigen::MatrixXd& measured_y) const;

  // C, b and the regression's sums, flat; Restore takes what Save gave.
  std::vector<double> Save() const;
  absl::Status Restore(std::span<const double> state);
  int state_size() const;

 private:
  int channels_;
  int positions_;
  Eigen::MatrixXd mixing_;
  Eigen::VectorXd offset_;
  Eigen::MatrixXd gram_;    // sum of z z^T, z = (y at one position, 1)
  Eigen::MatrixXd target_;  // sum of z (measured - y)^T
};

enum class InSituMethod { kPat, kDat };

struct ModelInSituOptions {
  InSituMethod method = InSituMethod::kPat;
  double learning_rate = 1e-3;  // Adam on every model parameter
  int warmup_steps = 10;        // DAT: steps before the predictions enter the backward pass
  double forgetting = 0.9;      // DAT: weight of the earlier minibatches per step
  double ridge = 1e-6;          // DAT: relative to the Gram matrix's mean diagonal
};

// INVALID_ARGUMENT naming the option.
absl::Status ValidateModelInSituOptions(const ModelInSituOptions& options);

struct ModelInSituStep {
  double loss = 0.0;  // cross-entropy of the measured logits, before the update
  // DAT: per optical layer, the prediction's MSE against the chip on this
  // minibatch before and after this step's fit (empty for PAT).
  std::vector<double> similarity_before;
  std::vector<double> similarity_after;
  bool predictions_used = false;  // DAT: past the warm-up
};

class ModelInSituTrainer {
 public:
  // REQUIRES: options valid; model placed on the chip by `placement`, and
  // the chip's phases the model's deployed ones before each Step.
  ModelInSituTrainer(Model& model, const ChipPlacement& placement, ChipOracle& oracle,
                     const ModelInSituOptions& options);

  // One minibatch: measured forward pass, (DAT) the predictions' fit, the
  // backward pass and an Adam step on the model's parameters. The caller
  // deploys the new phases. Chip errors are returned with the model as it
  // was.
  absl::StatusOr<ModelInSituStep> Step(const Eigen::MatrixXd& features,
                                       std::span<const int> labels);

  int steps() const { return steps_; }
  // One per optical layer, in model order (DAT; empty for PAT).
  const std::vector<LayerCorrection>& corrections() const { return corrections_; }

  // Adam's state, the step count and the predictions, flat.
  std::vector<double> SaveState() const;
  absl::Status RestoreState(std::span<const double> state);

 private:
  Model& model_;
  const ChipPlacement& placement_;
  ChipOracle& oracle_;
  ModelInSituOptions options_;
  diff::Adam adam_;
  std::vector<LayerCorrection> corrections_;
  int steps_ = 0;
};

// The model's loss and gradients in silico with `corrections` (one per
// optical layer, model order) applied after each optical layer, in the
// forward and the backward pass: the gradient checks' reference. Replaces
// model.Gradients(); returns the mean cross-entropy.
double CorrectedLossAndGradients(Model& model, std::span<const LayerCorrection> corrections,
                                 const Eigen::MatrixXd& features, std::span<const int> labels);

}  // namespace phc::trainers::onn
