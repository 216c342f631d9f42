// A differentiable model of an optical neural network: the layers a chip
// and its electronics can run, each with a forward pass on a batch and an
// analytic backward pass. Optical layers carry complex fields; electronic
// layers act on real values (the real part of their input).
//
// Gradient convention: for a real loss L of complex values z, a layer is
// handed delta = dL/dRe(z) + i dL/dIm(z) for its outputs and returns the
// same for its inputs. A linear optical map z_out = T z_in then returns
// T^H delta_out, and a parameter p of T gets dL/dp = Re sum conj(delta_out)
// (dT/dp z_in) (adjoint field propagation).
//
// Thread safety: none; a model belongs to one trainer.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "photonsim/eigen.h"
#include "photonsim/mzi_mesh.h"

namespace phc::trainers::diff {

using photonsim::Complex;
using photonsim::MatrixXc;

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string name() const = 0;
  virtual int in_width() const = 0;
  virtual int out_width() const = 0;
  // batch x in_width -> batch x out_width; keeps what Backward needs.
  virtual MatrixXc Forward(const MatrixXc& x) = 0;
  // delta_out (batch x out_width) -> delta_in; adds to gradients().
  virtual MatrixXc Backward(const MatrixXc& delta_out) = 0;
  // Trainable parameters and their accumulated gradients (same length).
  virtual std::span<double> parameters() { return {}; }
  virtual std::span<double> gradients() { return {}; }
  void ZeroGradients() {
    for (double& g : gradients()) g = 0.0;
  }
  // Whether the layer is a model of a mesh's errors acting on fields
  // between the mesh and its detector (DAT's error predictions).
  virtual bool optical_correction() const { return false; }
  // Whether the layer acts on fields inside an optical block, between a
  // mesh and its detector: the error predictions and optical activations.
  virtual bool in_optical_block() const { return optical_correction(); }
};

// Systematic errors of a fabricated mesh: per MZI, the input and output
// couplers' splitting errors (rad, 0 = 50:50) and the amplitude
// transmission; per phase, a fixed offset (phase error).
struct MeshErrors {
  std::vector<double> splitting_rad;     // 2 per MZI, or empty
  std::vector<double> transmission;      // 1 per MZI, or empty
  std::vector<double> phase_offset_rad;  // 1 per phase, or empty
};

// An N-mode MZI mesh (photonsim's Clements layout and MZI convention):
// phases 2m (internal theta) and 2m+1 (external phi) of MZI m.
class MeshLayer final : public Layer {
 public:
  explicit MeshLayer(photonsim::MziMesh topology);

  std::string name() const override { return "mesh"; }
  int in_width() const override { return topology_.mode_count(); }
  int out_width() const override { return topology_.mode_count(); }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;
  std::span<double> parameters() override { return phases_; }
  std::span<double> gradients() override { return gradients_; }

  const photonsim::MziMesh& topology() const { return topology_; }
  int phase_count() const { return topology_.phase_count(); }
  std::span<const double> phases() const { return phases_; }
  // The errors the model assumes (default: none).
  void SetErrors(MeshErrors errors);
  const MeshErrors& errors() const { return errors_; }
  // Gaussian phase noise added to every phase in each Forward (0: none).
  void SetPhaseNoise(double std_rad, std::mt19937_64* rng);
  // The transfer matrix at the present phases (no noise).
  MatrixXc TransferMatrix() const;

 private:
  struct MziMatrices {
    photonsim::Matrix2c t, dt_dtheta, dt_dphi;
  };
  MziMatrices Matrices(int mzi, double theta, double phi) const;

  photonsim::MziMesh topology_;
  std::vector<double> phases_;
  std::vector<double> gradients_;
  MeshErrors errors_;
  double noise_std_rad_ = 0.0;
  std::mt19937_64* rng_ = nullptr;
  // Saved by Forward: the phases used and the fields entering each column.
  std::vector<double> used_phases_;
  std::vector<MatrixXc> column_inputs_;
};

// Photodetection: p = |z|^2 (times `scale`).
class DetectLayer final : public Layer {
 public:
  explicit DetectLayer(int width, double scale = 1.0) : width_(width), scale_(scale) {}
  std::string name() const override { return "detect"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;

 private:
  int width_;
  double scale_;
  MatrixXc input_;
};

// Re-encodes detected powers as the next optical layer's input amplitudes:
// a = sqrt(p / max_j p_j + eps) per sample, so every amplitude is in [0, 1]
// as a modulator needs.
class ReencodeLayer final : public Layer {
 public:
  explicit ReencodeLayer(int width) : width_(width) {}
  std::string name() const override { return "reencode"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;

 private:
  int width_;
  Eigen::MatrixXd input_;
  Eigen::VectorXd row_max_;
  Eigen::VectorXi argmax_;
};

// y = W x + b on real values.
class DenseLayer final : public Layer {
 public:
  DenseLayer(int in, int out, std::mt19937_64& rng);
  std::string name() const override { return "dense"; }
  int in_width() const override { return in_; }
  int out_width() const override { return out_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;
  std::span<double> parameters() override { return params_; }
  std::span<double> gradients() override { return gradients_; }

 private:
  Eigen::Map<Eigen::MatrixXd> W() { return {params_.data(), out_, in_}; }
  int in_, out_;
  std::vector<double> params_;  // W (column-major out x in), then b
  std::vector<double> gradients_;
  Eigen::MatrixXd input_;
};

class ReluLayer final : public Layer {
 public:
  explicit ReluLayer(int width) : width_(width) {}
  std::string name() const override { return "relu"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;

 private:
  int width_;
  Eigen::MatrixXd input_;
};

// A systematic-error prediction network for one mesh (the SEPN of dual
// adaptive training): z -> z + A z with a complex N x N matrix A, zero at
// start. The systematic errors of a mesh (coupler splitting, phase offsets,
// losses, crosstalk at fixed settings) act linearly on the field, so a
// linear residual can represent the deviation of one mesh setting.
// Parameters: Re A then Im A, column-major.
// A model of a mesh's errors on its output field (DAT's error-prediction
// networks): part of the optical block, switched off during warm-up.
class PredictionLayer : public Layer {
 public:
  bool optical_correction() const override { return true; }
  // Off: the identity (DAT switches the predictions on after a warm-up).
  void set_enabled(bool enabled) { enabled_ = enabled; }
  bool enabled() const { return enabled_; }

 protected:
  bool enabled_ = true;
};

class ErrorPredictionLayer final : public PredictionLayer {
 public:
  explicit ErrorPredictionLayer(int width)
      : width_(width), params_(2 * width * width, 0.0), gradients_(2 * width * width, 0.0) {}
  std::string name() const override { return "sepn"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  MatrixXc Forward(const MatrixXc& x) override;
  MatrixXc Backward(const MatrixXc& delta_out) override;
  std::span<double> parameters() override { return params_; }
  std::span<double> gradients() override { return gradients_; }

 private:
  MatrixXc Matrix() const;
  int width_;
  std::vector<double> params_;
  std::vector<double> gradients_;
  MatrixXc input_;
};

// Softmax cross-entropy of logits (real) against labels: the mean loss, and
// its gradient with respect to the logits.
double SoftmaxCrossEntropy(const Eigen::MatrixXd& logits, std::span<const int> labels,
                           Eigen::MatrixXd* gradient);

}  // namespace phc::trainers::diff
