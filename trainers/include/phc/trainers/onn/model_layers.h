// Layers of the ONN models at the papers' scale (model.proto), on real
// values, one sample per row: signed linear layers on blocked coherent SVD
// cores, optical convolutions (im2col patches through the same blocked
// cores), and the electronics between them (clipped ReLU, average pooling).
// Every layer has a forward pass on a batch and an analytic backward pass.
// The digital counterparts (free weights) build the digital twin of a model:
// the same shape trained the same way, the ceiling an ONN is compared with.
//
// Thread safety: none; a model belongs to one trainer.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "phc/trainers/onn/svd_core.h"

namespace phc::trainers::onn {

class ModelLayer {
 public:
  virtual ~ModelLayer() = default;
  virtual std::string name() const = 0;
  virtual int in_width() const = 0;
  virtual int out_width() const = 0;
  // batch x in_width -> batch x out_width; keeps what Backward needs.
  virtual Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) = 0;
  // dL/d(output) -> dL/d(input); adds to gradients().
  virtual Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) = 0;
  virtual std::span<double> parameters() { return {}; }
  virtual std::span<double> gradients() { return {}; }
  // Per-forward Gaussian noise on optical phases (noise-aware training);
  // 0 turns it off. Electronic layers ignore it.
  virtual void SetPhaseNoise(double /*std_rad*/, std::mt19937_64* /*rng*/) {}
};

// A core's position in a blocked layer: block row r (outputs r*k ...),
// block column c (inputs c*k ...), parameters from `first_parameter`.
struct CoreBlock {
  int row = 0;
  int col = 0;
  int first_parameter = 0;
};

// y = g * W x with W (outputs x inputs) cut into k x k blocks, block (r, c)
// the real part of a coherent SVD core's transfer (zero-padded at the edges),
// and g one electronic gain. Parameters: g, then each core's phases in
// block-row-major order (SvdCore's phase order).
class OpticalLinear final : public ModelLayer {
 public:
  // Phases uniform in [0, 2 pi); g scaled so that the outputs' variance
  // starts near 2 / inputs (He initialisation) for unit inputs.
  OpticalLinear(int inputs, int outputs, int k, std::mt19937_64& rng);

  std::string name() const override { return "optical_linear"; }
  int in_width() const override { return inputs_; }
  int out_width() const override { return outputs_; }
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) override;
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) override;
  std::span<double> parameters() override { return parameters_; }
  std::span<double> gradients() override { return gradients_; }
  void SetPhaseNoise(double std_rad, std::mt19937_64* rng) override;

  int core_size() const { return k_; }
  const std::vector<CoreBlock>& blocks() const { return blocks_; }
  double gain() const { return parameters_[0]; }
  // parameters(), read-only: the gain, then each core's phases.
  std::span<const double> parameter_values() const { return parameters_; }
  // The weights g * W at the present phases (no noise).
  Eigen::MatrixXd Weights();

 private:
  void BuildWeights(bool with_noise);

  int inputs_, outputs_, k_;
  std::vector<CoreBlock> blocks_;
  std::vector<SvdCore> cores_;
  std::vector<double> parameters_, gradients_;
  double noise_std_rad_ = 0.0;
  std::mt19937_64* noise_rng_ = nullptr;
  std::vector<double> noisy_phases_;
  Eigen::MatrixXd unscaled_;  // W at the last build, before the gain
  Eigen::MatrixXd input_;
};

// y = W x with free weights (the digital twin of OpticalLinear), He-initialised.
class DigitalLinear final : public ModelLayer {
 public:
  DigitalLinear(int inputs, int outputs, std::mt19937_64& rng);
  std::string name() const override { return "digital_linear"; }
  int in_width() const override { return inputs_; }
  int out_width() const override { return outputs_; }
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) override;
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) override;
  std::span<double> parameters() override { return parameters_; }
  std::span<double> gradients() override { return gradients_; }

 private:
  Eigen::Map<Eigen::MatrixXd> W() { return {parameters_.data(), outputs_, inputs_}; }
  int inputs_, outputs_;
  std::vector<double> parameters_, gradients_;  // W, column-major
  Eigen::MatrixXd input_;
};

// Image geometry of a convolution; images are channel-major (c, y, x) rows.
struct ConvGeometry {
  int in_channels = 1;
  int height = 0;
  int width = 0;
  int kernel = 3;
  int stride = 1;
  int padding = 0;
  int out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  int out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  int patch_size() const { return in_channels * kernel * kernel; }
};

// A convolution whose kernel is a linear layer over im2col patches: every
// output position's patch (in_channels x kernel x kernel, zero-padded) goes
// through `kernel_map` (patch_size -> channels), output channels on its
// outputs. Parameters are the kernel map's.
class Conv2d final : public ModelLayer {
 public:
  // REQUIRES: kernel_map->in_width() == geometry.patch_size().
  Conv2d(ConvGeometry geometry, std::unique_ptr<ModelLayer> kernel_map);
  std::string name() const override { return "conv2d/" + kernel_map_->name(); }
  int in_width() const override { return g_.in_channels * g_.height * g_.width; }
  int out_width() const override {
    return kernel_map_->out_width() * g_.out_height() * g_.out_width();
  }
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) override;
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) override;
  std::span<double> parameters() override { return kernel_map_->parameters(); }
  std::span<double> gradients() override { return kernel_map_->gradients(); }
  void SetPhaseNoise(double std_rad, std::mt19937_64* rng) override {
    kernel_map_->SetPhaseNoise(std_rad, rng);
  }
  const ConvGeometry& geometry() const { return g_; }
  ModelLayer& kernel_map() { return *kernel_map_; }
  const ModelLayer& kernel_map() const { return *kernel_map_; }

  // The patches of a batch of images: (batch * positions) x patch_size,
  // row = sample * positions + position (position = y * out_width + x).
  Eigen::MatrixXd Im2Col(const Eigen::MatrixXd& x) const;
  // The kernel map's outputs for those patches back as images, one per row
  // (channel-major).
  Eigen::MatrixXd PatchOutputsToImages(const Eigen::MatrixXd& y, int batch) const;

 private:
  ConvGeometry g_;
  std::unique_ptr<ModelLayer> kernel_map_;
  int batch_ = 0;
};

// min(max(x, 0), clip) elementwise; clip <= 0: no upper clip.
class ClippedRelu final : public ModelLayer {
 public:
  ClippedRelu(int width, double clip) : width_(width), clip_(clip) {}
  std::string name() const override { return "relu"; }
  int in_width() const override { return width_; }
  int out_width() const override { return width_; }
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) override;
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) override;
  double clip() const { return clip_; }

 private:
  int width_;
  double clip_;
  Eigen::MatrixXd input_;
};

// Mean over non-overlapping size x size windows of each channel.
class AvgPool final : public ModelLayer {
 public:
  AvgPool(int channels, int height, int width, int size)
      : channels_(channels), height_(height), width_(width), size_(size) {}
  std::string name() const override { return "avg_pool"; }
  int in_width() const override { return channels_ * height_ * width_; }
  int out_width() const override { return channels_ * (height_ / size_) * (width_ / size_); }
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& x) override;
  Eigen::MatrixXd Backward(const Eigen::MatrixXd& d_loss_d_out) override;

 private:
  int channels_, height_, width_, size_;
};

}  // namespace phc::trainers::onn
