// The multilayer photonic neural network of DAT's authors (Zheng et al.,
// Nat. Mach. Intell. 2023; their code: THPCILab/DAT_MPNN): complex inputs
// (the centre of each image's 2-D Fourier transform), meshes cascaded
// coherently with an electro-optic activation between them, intensity
// detection at the end, the first `classes` normalised intensities read as
// logits (or, as an option, a digital readout of the detected powers).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <numbers>

#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/layers.h"
#include "phc/trainers/diff/network.h"
#include "phc/trainers/diff/unet_sepn.h"

namespace phc::trainers::diff {

// Complex fields from real features: x = (Re x_1..n, Im x_1..n) -> x_k =
// Re + i Im. The first layer of a network with complex inputs (a Dataset's
// features are real).
class ComplexInputLayer final : public Layer {
 public:
  explicit ComplexInputLayer(int width) : width_(width) {}
  std::string name() const override { return "complex_input"; }
  int in_width() const override { return 2 * width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;

 private:
  int width_;
};

// The electro-optic activation of the authors' MPNN (after Williamson et
// al. 2020): part of the field is tapped, detected and drives a phase
// modulator on the rest,
//   f(x) = sqrt(1 - alpha) cos(u) e^{-i u} x,  u = g |x|^2 / 2 + phi_b / 2.
// Acts mode by mode on fields inside an optical block.
struct ElectroOpticSpec {
  double alpha = 0.1;                     // tapped fraction
  double gain = 0.05 * std::numbers::pi;  // g, rad per unit |x|^2
  double bias_rad = std::numbers::pi;     // phi_b
};

class ElectroOpticLayer final : public Layer {
 public:
  ElectroOpticLayer(int width, ElectroOpticSpec spec) : width_(width), spec_(spec) {}
  std::string name() const override { return "electro_optic"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;
  bool in_optical_block() const override { return true; }

 private:
  int width_;
  ElectroOpticSpec spec_;
  MatrixXc input_;
};

// The authors' output unit on detected powers p (real): p / |p|_2 over all
// modes, of which the first `keep` are the logits.
class NormalisedReadoutLayer final : public Layer {
 public:
  NormalisedReadoutLayer(int width, int keep) : width_(width), keep_(keep) {}
  std::string name() const override { return "normalised_readout"; }
  int in_width() const override { return width_; }
  int out_width() const override { return keep_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;

 private:
  int width_;
  int keep_;
  Eigen::MatrixXd normalised_;  // every mode's p / |p|
  Eigen::VectorXd norm_;
};

struct MpnnSpec {
  int modes = 64;
  int meshes = 3;
  int classes = 10;
  bool complex_inputs = true;    // the first layer reads 2 x modes real features
  bool activation = true;        // the electro-optic activation between meshes
  bool digital_readout = false;  // a dense layer instead of the normalised intensities
  ElectroOpticSpec electro_optic = {};
  bool predictions = false;  // DAT's error predictions after every mesh
  PredictionKind prediction_kind = PredictionKind::kLinear;
  std::uint64_t seed = 1;
};

// [complex input] -> (mesh [-> prediction] [-> activation]) x meshes, the
// last without activation -> detection -> normalised readout (or a dense
// layer). Mesh phases uniform in [0, 2 pi).
Network BuildMpnn(const MpnnSpec& spec);

// DAT's authors' inputs: each image's 2-D discrete Fourier transform,
// shifted so the zero frequency is at the centre, its centre side x side
// coefficients (frequencies -side/2 .. side/2 - 1 on both axes) divided by
// their mean modulus. Features: the real parts, then the imaginary parts
// (row-major over the coefficients), for ComplexInputLayer.
// REQUIRES: side even and <= the images' side.
Dataset CentredFourierFeatures(const ImageSet& images, int side, int classes = 10);

}  // namespace phc::trainers::diff
