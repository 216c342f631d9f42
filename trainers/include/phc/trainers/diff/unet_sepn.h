// DAT's error-prediction network for large meshes, as in the authors' code
// (THPCILab/DAT_MPNN, net.py ComplexUNet; read for us, see docs/in_situ.md):
// a complex U-Net on the mesh's output field reshaped to a side x side
// image (64 modes: 8 x 8), added to the field as a residual,
//   z_out = z + U(z).
// U: three levels of three complex 3x3 convolutions (channels c1, c2, c3;
// default 4, 8, 16), stride-2 complex convolutions down, stride-2
// transposed convolutions up with skip concatenations, and a last 3x3
// convolution to one channel. Complex convolutions have complex weights
// and biases (the authors' pair of real convolutions is the same map);
// the activation is ReLU on the real and the imaginary part. Our reading
// of what the code leaves open: the down convolutions keep the channel
// count and, like the up convolutions, are followed by the activation.
//
// Gradients follow layers.h: a layer is handed dL/dRe z + i dL/dIm z and a
// complex parameter w gets dL/dRe w + i dL/dIm w = sum delta conj(input).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "phc/trainers/diff/layers.h"

namespace phc::trainers::diff {

class UNetErrorPredictionLayer final : public PredictionLayer {
 public:
  // REQUIRES: width = side^2 with side divisible by 4; channels >= 1.
  // Weights and biases uniform in +-1/sqrt(fan_in) (PyTorch's default).
  UNetErrorPredictionLayer(int width, std::array<int, 3> channels, std::uint64_t seed);
  ~UNetErrorPredictionLayer() override;

  std::string name() const override { return "sepn_unet"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;
  std::span<double> parameters() override { return parameters_; }
  std::span<double> gradients() override { return gradients_; }

  // One step of the network: a convolution, a transposed convolution, the
  // activation or a concatenation, on images of `channels` x side x side
  // stored channel-major, one sample per row.
  class Op;

 private:
  int width_;
  std::vector<double> parameters_;
  std::vector<double> gradients_;
  std::vector<std::unique_ptr<Op>> ops_;
  // Per op: the indices of its inputs in the list of values (0: the
  // layer's input; value k + 1: op k's output).
  std::vector<std::vector<int>> op_inputs_;
  std::vector<MatrixXc> values_;  // from the last Forward
};

// The error-prediction layer DAT adds after a mesh of `modes` modes: the
// linear SEPN z + A z, or the authors' complex U-Net (channels 4 / 8 / 16;
// modes = side^2 with side divisible by 4). Only the U-Net draws from
// `rng` (its weights' seed), so networks with linear SEPNs draw as before.
enum class PredictionKind { kLinear, kUNet };
std::unique_ptr<PredictionLayer> MakePrediction(PredictionKind kind, int modes,
                                                std::mt19937_64& rng);

}  // namespace phc::trainers::diff
