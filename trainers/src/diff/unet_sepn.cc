#include "phc/trainers/diff/unet_sepn.h"

#include <cmath>
#include <random>

#include "phc/base/check.h"

namespace phc::trainers::diff {
namespace {

struct Shape {
  int channels = 1;
  int side = 1;
  int area() const { return side * side; }
  int size() const { return channels * area(); }
};

}  // namespace

class UNetErrorPredictionLayer::Op {
 public:
  virtual ~Op() = default;
  virtual MatrixXc Forward(const std::vector<const MatrixXc*>& inputs,
                           std::span<const double> parameters) = 0;
  // The deltas of the inputs, in order; adds to `gradients`.
  virtual std::vector<MatrixXc> Backward(const MatrixXc& delta, std::span<const double> parameters,
                                         std::span<double> gradients) = 0;
};

namespace {

using Op = UNetErrorPredictionLayer::Op;

// A 3x3 complex convolution, padding 1, stride 1 or 2; or its transpose
// (stride 2, output padding 1: the side doubles). Parameters from
// `offset`: the weights (out, in, 3, 3) as (re, im) pairs, then the biases.
class Conv final : public Op {
 public:
  Conv(Shape in, int out_channels, int stride, bool transposed, int offset)
      : in_(in), offset_(offset) {
    out_.channels = out_channels;
    out_.side = transposed ? in.side * stride : (in.side - 1) / stride + 1;
    // Taps: (input position, output position, kernel index).
    for (int ky = 0; ky < 3; ++ky) {
      for (int kx = 0; kx < 3; ++kx) {
        const int small = transposed ? in.side : out_.side;
        const int large = transposed ? out_.side : in.side;
        for (int sy = 0; sy < small; ++sy) {
          for (int sx = 0; sx < small; ++sx) {
            const int ly = sy * stride - 1 + ky;
            const int lx = sx * stride - 1 + kx;
            if (ly < 0 || ly >= large || lx < 0 || lx >= large) continue;
            const int s = sy * small + sx;
            const int l = ly * large + lx;
            taps_.push_back({transposed ? s : l, transposed ? l : s, ky * 3 + kx});
          }
        }
      }
    }
  }
  static int ParameterCount(int in_channels, int out_channels) {
    return 2 * (out_channels * in_channels * 9 + out_channels);
  }
  Shape out() const { return out_; }

  MatrixXc Forward(const std::vector<const MatrixXc*>& inputs, std::span<const double> p) override {
    input_ = *inputs[0];
    MatrixXc y(input_.rows(), out_.size());
    for (int co = 0; co < out_.channels; ++co) {
      y.middleCols(static_cast<Eigen::Index>(co) * out_.area(), out_.area())
          .setConstant(Bias(p, co));
    }
    for (int co = 0; co < out_.channels; ++co) {
      for (int ci = 0; ci < in_.channels; ++ci) {
        for (const auto& [i, o, k] : taps_) {
          y.col(co * out_.area() + o) += Weight(p, co, ci, k) * input_.col(ci * in_.area() + i);
        }
      }
    }
    return y;
  }

  std::vector<MatrixXc> Backward(const MatrixXc& delta, std::span<const double> p,
                                 std::span<double> g) override {
    MatrixXc d_in = MatrixXc::Zero(input_.rows(), in_.size());
    for (int co = 0; co < out_.channels; ++co) {
      const Complex bias_gradient =
          delta.middleCols(static_cast<Eigen::Index>(co) * out_.area(), out_.area()).sum();
      g[BiasIndex(co)] += bias_gradient.real();
      g[BiasIndex(co) + 1] += bias_gradient.imag();
      for (int ci = 0; ci < in_.channels; ++ci) {
        for (const auto& [i, o, k] : taps_) {
          const auto d = delta.col(co * out_.area() + o);
          const auto x = input_.col(ci * in_.area() + i);
          d_in.col(ci * in_.area() + i) += std::conj(Weight(p, co, ci, k)) * d;
          const Complex w_gradient = std::conj(d.dot(x));  // sum_b d conj(x)
          g[WeightIndex(co, ci, k)] += w_gradient.real();
          g[WeightIndex(co, ci, k) + 1] += w_gradient.imag();
        }
      }
    }
    return {std::move(d_in)};
  }

 private:
  struct Tap {
    int in = 0;
    int out = 0;
    int kernel = 0;
  };
  int WeightIndex(int co, int ci, int k) const {
    return offset_ + 2 * ((co * in_.channels + ci) * 9 + k);
  }
  int BiasIndex(int co) const { return offset_ + 2 * (out_.channels * in_.channels * 9 + co); }
  Complex Weight(std::span<const double> p, int co, int ci, int k) const {
    const int at = WeightIndex(co, ci, k);
    return {p[at], p[at + 1]};
  }
  Complex Bias(std::span<const double> p, int co) const {
    return {p[BiasIndex(co)], p[BiasIndex(co) + 1]};
  }

  Shape in_, out_;
  int offset_;
  std::vector<Tap> taps_;
  MatrixXc input_;
};

// ReLU on the real and on the imaginary part.
class ComplexRelu final : public Op {
 public:
  MatrixXc Forward(const std::vector<const MatrixXc*>& inputs, std::span<const double>) override {
    input_ = *inputs[0];
    return input_.unaryExpr(
        [](const Complex& z) { return Complex(std::max(z.real(), 0.0), std::max(z.imag(), 0.0)); });
  }
  std::vector<MatrixXc> Backward(const MatrixXc& delta, std::span<const double>,
                                 std::span<double>) override {
    MatrixXc d = delta;
    for (Eigen::Index c = 0; c < d.cols(); ++c) {
      for (Eigen::Index r = 0; r < d.rows(); ++r) {
        const Complex z = input_(r, c);
        d(r, c) =
            Complex(z.real() > 0.0 ? d(r, c).real() : 0.0, z.imag() > 0.0 ? d(r, c).imag() : 0.0);
      }
    }
    return {std::move(d)};
  }

 private:
  MatrixXc input_;
};

// Two images of the same side, channels stacked (channel-major rows).
class Concat final : public Op {
 public:
  MatrixXc Forward(const std::vector<const MatrixXc*>& inputs, std::span<const double>) override {
    first_cols_ = inputs[0]->cols();
    MatrixXc y(inputs[0]->rows(), inputs[0]->cols() + inputs[1]->cols());
    y << *inputs[0], *inputs[1];
    return y;
  }
  std::vector<MatrixXc> Backward(const MatrixXc& delta, std::span<const double>,
                                 std::span<double>) override {
    return {delta.leftCols(first_cols_), delta.rightCols(delta.cols() - first_cols_)};
  }

 private:
  Eigen::Index first_cols_ = 0;
};

}  // namespace

std::unique_ptr<PredictionLayer> MakePrediction(PredictionKind kind, int modes,
                                                std::mt19937_64& rng) {
  if (kind == PredictionKind::kUNet) {
    return std::make_unique<UNetErrorPredictionLayer>(modes, std::array<int, 3>{4, 8, 16}, rng());
  }
  return std::make_unique<ErrorPredictionLayer>(modes);
}

UNetErrorPredictionLayer::UNetErrorPredictionLayer(int width, std::array<int, 3> channels,
                                                   std::uint64_t seed)
    : width_(width) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(width))));
  PHC_CHECK(side * side == width && side % 4 == 0);
  PHC_CHECK(channels[0] >= 1 && channels[1] >= 1 && channels[2] >= 1);
  std::mt19937_64 rng(seed);
  std::vector<Shape> shapes{{.channels = 1, .side = side}};  // value 0: the field
  // Adds an op reading `inputs` (value indices) with output shape `out`.
  auto add = [&](std::unique_ptr<Op> op, std::vector<int> inputs, Shape out) {
    ops_.push_back(std::move(op));
    op_inputs_.push_back(std::move(inputs));
    shapes.push_back(out);
    return static_cast<int>(shapes.size()) - 1;
  };
  auto conv = [&](int from, int out_channels, int stride, bool transposed) {
    const Shape in = shapes[from];
    const int offset = static_cast<int>(parameters_.size());
    const int count = Conv::ParameterCount(in.channels, out_channels);
    const double bound = 1.0 / std::sqrt(9.0 * (transposed ? out_channels : in.channels));
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (int k = 0; k < count; ++k) parameters_.push_back(uniform(rng));
    auto op = std::make_unique<Conv>(in, out_channels, stride, transposed, offset);
    const Shape out = op->out();
    return add(std::move(op), {from}, out);
  };
  auto relu = [&](int from) { return add(std::make_unique<ComplexRelu>(), {from}, shapes[from]); };
  auto block = [&](int from, int out_channels) {
    int v = from;
    for (int i = 0; i < 3; ++i) v = relu(conv(v, out_channels, 1, false));
    return v;
  };
  auto concat = [&](int a, int b) {
    return add(std::make_unique<Concat>(), {a, b},
               {.channels = shapes[a].channels + shapes[b].channels, .side = shapes[a].side});
  };
  const auto [c1, c2, c3] = channels;
  const int level1 = block(0, c1);
  const int level2 = block(relu(conv(level1, c1, 2, false)), c2);
  const int level3 = block(relu(conv(level2, c2, 2, false)), c3);
  const int up1 = concat(relu(conv(level3, c2, 2, true)), level2);
  const int up2 = concat(relu(conv(up1, c1, 2, true)), level1);
  conv(up2, 1, 1, false);
  gradients_.assign(parameters_.size(), 0.0);
}

UNetErrorPredictionLayer::~UNetErrorPredictionLayer() = default;

MatrixXc UNetErrorPredictionLayer::Forward(const MatrixXc& x) {
  values_.assign(1, x);
  if (!enabled_) return x;
  for (std::size_t k = 0; k < ops_.size(); ++k) {
    std::vector<const MatrixXc*> inputs;
    for (const int v : op_inputs_[k]) inputs.push_back(&values_[v]);
    MatrixXc out = ops_[k]->Forward(inputs, parameters_);
    values_.push_back(std::move(out));
  }
  return x + values_.back();
}

MatrixXc UNetErrorPredictionLayer::Backward(const MatrixXc& delta_out) {
  if (!enabled_) return delta_out;
  std::vector<MatrixXc> deltas(values_.size());
  deltas.back() = delta_out;
  for (std::size_t k = ops_.size(); k-- > 0;) {
    MatrixXc& d = deltas[k + 1];
    if (d.size() == 0) continue;  // nothing flows back through this value
    std::vector<MatrixXc> d_inputs = ops_[k]->Backward(d, parameters_, gradients_);
    for (std::size_t i = 0; i < d_inputs.size(); ++i) {
      MatrixXc& target = deltas[op_inputs_[k][i]];
      if (target.size() == 0) {
        target = std::move(d_inputs[i]);
      } else {
        target += d_inputs[i];
      }
    }
  }
  return delta_out + deltas[0];
}

}  // namespace phc::trainers::diff
