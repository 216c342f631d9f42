#include "phc/trainers/dense_network.h"

#include <cmath>
#include <numbers>
#include <random>

#include "phc/base/check.h"

namespace phc::trainers {

DenseNetwork::DenseNetwork(std::vector<int> widths, std::uint64_t seed)
    : widths_(std::move(widths)) {
  PHC_CHECK(widths_.size() >= 2);
  std::mt19937_64 rng(seed);
  for (std::size_t l = 1; l < widths_.size(); ++l) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(widths_[l - 1]));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    DenseLayer layer{Eigen::MatrixXf(widths_[l], widths_[l - 1]), Eigen::VectorXf(widths_[l])};
    for (float& w : layer.weights.reshaped()) w = uniform(rng);
    for (float& b : layer.bias) b = uniform(rng);
    layers_.push_back(std::move(layer));
  }
}

void DenseNetwork::Forward(const Eigen::MatrixXf& inputs, ForwardCache& cache) const {
  const std::size_t n = layers_.size();
  cache.activations.resize(n);
  cache.preactivations.resize(n);
  cache.activations[0] = inputs;
  for (std::size_t l = 0; l < n; ++l) {
    Eigen::MatrixXf& a = cache.preactivations[l];
    a.noalias() = layers_[l].weights * cache.activations[l];
    a.colwise() += layers_[l].bias;
    if (l + 1 < n) cache.activations[l + 1] = a.cwiseMax(0.0f);
  }
}

Eigen::MatrixXf DenseNetwork::Logits(const Eigen::MatrixXf& inputs) const {
  ForwardCache cache;
  Forward(inputs, cache);
  return cache.logits();
}

Eigen::MatrixXf OutputError(const Eigen::MatrixXf& logits, std::span<const int> labels,
                            double* loss) {
  PHC_CHECK(static_cast<Eigen::Index>(labels.size()) == logits.cols());
  const float batch = static_cast<float>(logits.cols());
  Eigen::MatrixXf error(logits.rows(), logits.cols());
  double total_loss = 0.0;
  for (Eigen::Index s = 0; s < logits.cols(); ++s) {
    const float top = logits.col(s).maxCoeff();
    const Eigen::ArrayXf exps = (logits.col(s).array() - top).exp();
    const float sum = exps.sum();
    error.col(s) = (exps / sum).matrix();
    total_loss += std::log(sum) - (logits(labels[s], s) - top);
    error(labels[s], s) -= 1.0f;
  }
  if (loss != nullptr) *loss = total_loss / batch;
  return error / batch;
}

namespace {

// dW, db of layer l from its delta (outputs x batch).
void LayerGradient(const ForwardCache& cache, std::size_t l, const Eigen::MatrixXf& delta,
                   Gradients& g) {
  g.weights[l].noalias() = delta * cache.activations[l].transpose();
  g.bias[l] = delta.rowwise().sum();
}

Gradients SizedGradients(std::size_t layers) {
  Gradients g;
  g.weights.resize(layers);
  g.bias.resize(layers);
  return g;
}

Eigen::MatrixXf ReluMask(const Eigen::MatrixXf& preactivation) {
  return (preactivation.array() > 0.0f).cast<float>().matrix();
}

}  // namespace

Gradients BackpropGradients(const DenseNetwork& net, const ForwardCache& cache,
                            const Eigen::MatrixXf& output_error) {
  const std::size_t n = net.layers().size();
  Gradients g = SizedGradients(n);
  Eigen::MatrixXf delta = output_error;
  for (std::size_t l = n; l-- > 0;) {
    LayerGradient(cache, l, delta, g);
    if (l == 0) break;
    Eigen::MatrixXf upstream = net.layers()[l].weights.transpose() * delta;
    delta = upstream.cwiseProduct(ReluMask(cache.preactivations[l - 1]));
  }
  return g;
}

Gradients DfaGradients(const DenseNetwork& net, const ForwardCache& cache,
                       const Eigen::MatrixXf& output_error,
                       std::span<const Eigen::MatrixXf> feedback) {
  const std::size_t n = net.layers().size();
  PHC_CHECK(feedback.size() == n - 1);
  Gradients g = SizedGradients(n);
  LayerGradient(cache, n - 1, output_error, g);
  for (std::size_t l = 0; l + 1 < n; ++l) {
    const Eigen::MatrixXf delta = feedback[l].cwiseProduct(ReluMask(cache.preactivations[l]));
    LayerGradient(cache, l, delta, g);
  }
  return g;
}

MomentumSgd::MomentumSgd(const DenseNetwork& net, float learning_rate, float momentum)
    : learning_rate_(learning_rate), momentum_(momentum) {
  velocity_ = SizedGradients(net.layers().size());
  for (std::size_t l = 0; l < net.layers().size(); ++l) {
    velocity_.weights[l] =
        Eigen::MatrixXf::Zero(net.layers()[l].weights.rows(), net.layers()[l].weights.cols());
    velocity_.bias[l] = Eigen::VectorXf::Zero(net.layers()[l].bias.size());
  }
}

void MomentumSgd::Step(DenseNetwork& net, const Gradients& gradients) {
  for (std::size_t l = 0; l < net.layers().size(); ++l) {
    velocity_.weights[l] = momentum_ * velocity_.weights[l] + gradients.weights[l];
    velocity_.bias[l] = momentum_ * velocity_.bias[l] + gradients.bias[l];
    net.layers()[l].weights -= learning_rate_ * velocity_.weights[l];
    net.layers()[l].bias -= learning_rate_ * velocity_.bias[l];
  }
}

double Accuracy(const DenseNetwork& net, const Eigen::MatrixXf& inputs,
                std::span<const int> labels) {
  if (labels.empty()) return 0.0;
  int correct = 0;
  constexpr Eigen::Index kChunk = 1000;
  for (Eigen::Index start = 0; start < inputs.cols(); start += kChunk) {
    const Eigen::Index count = std::min(kChunk, inputs.cols() - start);
    const Eigen::MatrixXf logits = net.Logits(inputs.middleCols(start, count));
    for (Eigen::Index s = 0; s < count; ++s) {
      Eigen::Index best = 0;
      logits.col(s).maxCoeff(&best);
      if (best == labels[start + s]) ++correct;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double HiddenUpdateAngleDeg(const Gradients& a, const Gradients& b) {
  double dot = 0.0, norm_a = 0.0, norm_b = 0.0;
  for (std::size_t l = 0; l + 1 < a.weights.size(); ++l) {
    dot += static_cast<double>(a.weights[l].cwiseProduct(b.weights[l]).sum()) +
           a.bias[l].dot(b.bias[l]);
    norm_a += static_cast<double>(a.weights[l].squaredNorm()) + a.bias[l].squaredNorm();
    norm_b += static_cast<double>(b.weights[l].squaredNorm()) + b.bias[l].squaredNorm();
  }
  if (norm_a == 0.0 || norm_b == 0.0) return 90.0;
  const double cosine = std::clamp(dot / std::sqrt(norm_a * norm_b), -1.0, 1.0);
  return std::acos(cosine) * 180.0 / std::numbers::pi;
}

}  // namespace phc::trainers
