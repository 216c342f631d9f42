#include "phc/trainers/onn/model_layers.h"

#include <cmath>
#include <numbers>

#include "phc/base/check.h"

namespace phc::trainers::onn {

// --- OpticalLinear ---

OpticalLinear::OpticalLinear(int inputs, int outputs, int k, std::mt19937_64& rng)
    : inputs_(inputs), outputs_(outputs), k_(k) {
  PHC_CHECK(inputs >= 1 && outputs >= 1 && k >= 2);
  const int rows = (outputs + k - 1) / k;
  const int cols = (inputs + k - 1) / k;
  const int per_core = SvdCore::PhaseCount(k);
  parameters_.assign(1 + rows * cols * per_core, 0.0);
  std::uniform_real_distribution<double> phase(0.0, 2 * std::numbers::pi);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      blocks_.push_back({.row = r, .col = c, .first_parameter = 1 + (r * cols + c) * per_core});
      cores_.emplace_back(k);
    }
  }
  for (std::size_t p = 1; p < parameters_.size(); ++p) parameters_[p] = phase(rng);
  gradients_.assign(parameters_.size(), 0.0);
  parameters_[0] = 1.0;
  BuildWeights(false);
  const double mean_square = unscaled_.squaredNorm() / static_cast<double>(unscaled_.size());
  parameters_[0] = std::sqrt(2.0 / (inputs_ * std::max(mean_square, 1e-12)));
}

void OpticalLinear::SetPhaseNoise(double std_rad, std::mt19937_64* rng) {
  noise_std_rad_ = std_rad;
  noise_rng_ = rng;
}

void OpticalLinear::BuildWeights(bool with_noise) {
  unscaled_.setZero(outputs_, inputs_);
  const int per_core = SvdCore::PhaseCount(k_);
  const bool noisy = with_noise && noise_std_rad_ > 0.0 && noise_rng_ != nullptr;
  std::normal_distribution<double> noise(0.0, noisy ? noise_std_rad_ : 1.0);
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const CoreBlock& block = blocks_[b];
    std::span<const double> phases(parameters_.data() + block.first_parameter, per_core);
    if (noisy) {
      noisy_phases_.assign(phases.begin(), phases.end());
      for (double& p : noisy_phases_) p += noise(*noise_rng_);
      phases = noisy_phases_;
    }
    const Eigen::MatrixXd& m = cores_[b].Build(phases);
    const int r0 = block.row * k_, c0 = block.col * k_;
    const int rows = std::min(k_, outputs_ - r0), cols = std::min(k_, inputs_ - c0);
    unscaled_.block(r0, c0, rows, cols) = m.topLeftCorner(rows, cols);
  }
}

Eigen::MatrixXd OpticalLinear::Weights() {
  BuildWeights(false);
  return parameters_[0] * unscaled_;
}

Eigen::MatrixXd OpticalLinear::Forward(const Eigen::MatrixXd& x) {
  PHC_CHECK(x.cols() == inputs_);
  input_ = x;
  BuildWeights(true);
  Eigen::MatrixXd y;
  y.noalias() = x * unscaled_.transpose();
  return parameters_[0] * y;
}

Eigen::MatrixXd OpticalLinear::Backward(const Eigen::MatrixXd& d_loss_d_out) {
  const double gain = parameters_[0];
  Eigen::MatrixXd d_loss_d_unscaled;
  d_loss_d_unscaled.noalias() = d_loss_d_out.transpose() * input_;  // outputs x inputs
  gradients_[0] += d_loss_d_unscaled.cwiseProduct(unscaled_).sum();
  d_loss_d_unscaled *= gain;
  const int per_core = SvdCore::PhaseCount(k_);
  Eigen::MatrixXd block_gradient(k_, k_);
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const CoreBlock& block = blocks_[b];
    const int r0 = block.row * k_, c0 = block.col * k_;
    const int rows = std::min(k_, outputs_ - r0), cols = std::min(k_, inputs_ - c0);
    block_gradient.setZero();
    block_gradient.topLeftCorner(rows, cols) = d_loss_d_unscaled.block(r0, c0, rows, cols);
    cores_[b].Backward(block_gradient,
                       std::span<double>(gradients_.data() + block.first_parameter, per_core));
  }
  Eigen::MatrixXd d_loss_d_in;
  d_loss_d_in.noalias() = d_loss_d_out * unscaled_;
  return gain * d_loss_d_in;
}

// --- DigitalLinear ---

DigitalLinear::DigitalLinear(int inputs, int outputs, std::mt19937_64& rng)
    : inputs_(inputs),
      outputs_(outputs),
      parameters_(inputs * outputs),
      gradients_(inputs * outputs) {
  std::normal_distribution<double> weight(0.0, std::sqrt(2.0 / inputs));
  for (double& w : parameters_) w = weight(rng);
}

Eigen::MatrixXd DigitalLinear::Forward(const Eigen::MatrixXd& x) {
  PHC_CHECK(x.cols() == inputs_);
  input_ = x;
  Eigen::MatrixXd y;
  y.noalias() = x * W().transpose();
  return y;
}

Eigen::MatrixXd DigitalLinear::Backward(const Eigen::MatrixXd& d_loss_d_out) {
  Eigen::Map<Eigen::MatrixXd> d_loss_d_w(gradients_.data(), outputs_, inputs_);
  d_loss_d_w.noalias() += d_loss_d_out.transpose() * input_;
  Eigen::MatrixXd d_loss_d_in;
  d_loss_d_in.noalias() = d_loss_d_out * W();
  return d_loss_d_in;
}

// --- Conv2d ---

Conv2d::Conv2d(ConvGeometry geometry, std::unique_ptr<ModelLayer> kernel_map)
    : g_(geometry), kernel_map_(std::move(kernel_map)) {
  PHC_CHECK(kernel_map_->in_width() == g_.patch_size());
  PHC_CHECK(g_.out_height() >= 1 && g_.out_width() >= 1);
}

namespace {

// Calls visit(column, position, pixel) for every patch entry that lies inside
// the image (padding entries are zero and skipped): patch column `column`
// of output position `position` reads input pixel `pixel`.
template <typename Visit>
void ForEachPatchPixel(const ConvGeometry& g, Visit visit) {
  const int ow = g.out_width(), kk = g.kernel * g.kernel;
  for (int c = 0; c < g.in_channels; ++c) {
    for (int ky = 0; ky < g.kernel; ++ky) {
      for (int kx = 0; kx < g.kernel; ++kx) {
        const int column = c * kk + ky * g.kernel + kx;
        for (int oy = 0; oy < g.out_height(); ++oy) {
          const int y = oy * g.stride + ky - g.padding;
          if (y < 0 || y >= g.height) continue;
          for (int ox = 0; ox < ow; ++ox) {
            const int x = ox * g.stride + kx - g.padding;
            if (x < 0 || x >= g.width) continue;
            visit(column, oy * ow + ox, (c * g.height + y) * g.width + x);
          }
        }
      }
    }
  }
}

}  // namespace

Eigen::MatrixXd Conv2d::Im2Col(const Eigen::MatrixXd& x) const {
  const int positions = g_.out_height() * g_.out_width();
  Eigen::MatrixXd patches = Eigen::MatrixXd::Zero(x.rows() * positions, g_.patch_size());
  ForEachPatchPixel(g_, [&](int column, int p, int pixel) {
    for (Eigen::Index b = 0; b < x.rows(); ++b) patches(b * positions + p, column) = x(b, pixel);
  });
  return patches;
}

Eigen::MatrixXd Conv2d::PatchOutputsToImages(const Eigen::MatrixXd& y, int batch) const {
  const int positions = g_.out_height() * g_.out_width();
  const int channels = static_cast<int>(y.cols());
  Eigen::MatrixXd out(batch, channels * positions);
  for (int co = 0; co < channels; ++co) {
    for (int b = 0; b < batch; ++b) {
      out.row(b).segment(co * positions, positions) =
          y.col(co).segment(b * positions, positions).transpose();
    }
  }
  return out;
}

Eigen::MatrixXd Conv2d::Forward(const Eigen::MatrixXd& x) {
  PHC_CHECK(x.cols() == in_width());
  batch_ = static_cast<int>(x.rows());
  return PatchOutputsToImages(kernel_map_->Forward(Im2Col(x)), batch_);
}

Eigen::MatrixXd Conv2d::Backward(const Eigen::MatrixXd& d_loss_d_out) {
  const int positions = g_.out_height() * g_.out_width();
  const int channels = kernel_map_->out_width();
  Eigen::MatrixXd d_loss_d_y(batch_ * positions, channels);
  for (int co = 0; co < channels; ++co) {
    for (int b = 0; b < batch_; ++b) {
      d_loss_d_y.col(co).segment(b * positions, positions) =
          d_loss_d_out.row(b).segment(co * positions, positions).transpose();
    }
  }
  const Eigen::MatrixXd d_patches = kernel_map_->Backward(d_loss_d_y);
  Eigen::MatrixXd d_loss_d_in = Eigen::MatrixXd::Zero(batch_, in_width());
  ForEachPatchPixel(g_, [&](int column, int p, int pixel) {
    for (int b = 0; b < batch_; ++b) d_loss_d_in(b, pixel) += d_patches(b * positions + p, column);
  });
  return d_loss_d_in;
}

// --- ClippedRelu ---

Eigen::MatrixXd ClippedRelu::Forward(const Eigen::MatrixXd& x) {
  input_ = x;
  Eigen::MatrixXd y = x.cwiseMax(0.0);
  if (clip_ > 0.0) y = y.cwiseMin(clip_);
  return y;
}

Eigen::MatrixXd ClippedRelu::Backward(const Eigen::MatrixXd& d_loss_d_out) {
  const double upper = clip_ > 0.0 ? clip_ : std::numeric_limits<double>::infinity();
  return d_loss_d_out.cwiseProduct(
      ((input_.array() > 0.0) && (input_.array() < upper)).cast<double>().matrix());
}

// --- AvgPool ---

Eigen::MatrixXd AvgPool::Forward(const Eigen::MatrixXd& x) {
  PHC_CHECK(x.cols() == in_width());
  const int oh = height_ / size_, ow = width_ / size_;
  const double scale = 1.0 / (size_ * size_);
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(x.rows(), out_width());
  for (int c = 0; c < channels_; ++c) {
    for (int y = 0; y < oh * size_; ++y) {
      for (int xx = 0; xx < ow * size_; ++xx) {
        out.col((c * oh + y / size_) * ow + xx / size_) +=
            scale * x.col((c * height_ + y) * width_ + xx);
      }
    }
  }
  return out;
}

Eigen::MatrixXd AvgPool::Backward(const Eigen::MatrixXd& d_loss_d_out) {
  const int oh = height_ / size_, ow = width_ / size_;
  const double scale = 1.0 / (size_ * size_);
  Eigen::MatrixXd d_loss_d_in = Eigen::MatrixXd::Zero(d_loss_d_out.rows(), in_width());
  for (int c = 0; c < channels_; ++c) {
    for (int y = 0; y < oh * size_; ++y) {
      for (int xx = 0; xx < ow * size_; ++xx) {
        d_loss_d_in.col((c * height_ + y) * width_ + xx) =
            scale * d_loss_d_out.col((c * oh + y / size_) * ow + xx / size_);
      }
    }
  }
  return d_loss_d_in;
}

}  // namespace phc::trainers::onn
