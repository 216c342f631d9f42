// A fully connected network (ReLU hidden layers, linear logits, softmax
// cross-entropy) trained digitally by backpropagation or by direct feedback
// alignment (DFA, Noekland 2016; Filipovich et al., Optica 2022).
//
// Samples are columns: a batch X is (inputs x batch). Layer l computes
// a_l = W_l h_{l-1} + b_l, h_l = ReLU(a_l); the last layer gives logits z.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

namespace phc::trainers {

struct DenseLayer {
  Eigen::MatrixXf weights;  // outputs x inputs
  Eigen::VectorXf bias;
};

// What a forward pass keeps for the backward pass.
struct ForwardCache {
  std::vector<Eigen::MatrixXf> activations;     // h_0 = X, h_1, ..., h_L (post-ReLU)
  std::vector<Eigen::MatrixXf> preactivations;  // a_1, ..., a_L, z
  const Eigen::MatrixXf& logits() const { return preactivations.back(); }
};

struct Gradients {
  std::vector<Eigen::MatrixXf> weights;
  std::vector<Eigen::VectorXf> bias;
};

class DenseNetwork {
 public:
  // widths: inputs, hidden..., outputs. PyTorch's nn.Linear default init:
  // W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  DenseNetwork(std::vector<int> widths, std::uint64_t seed);

  const std::vector<int>& widths() const { return widths_; }
  int hidden_layer_count() const { return static_cast<int>(widths_.size()) - 2; }
  std::vector<DenseLayer>& layers() { return layers_; }
  const std::vector<DenseLayer>& layers() const { return layers_; }

  void Forward(const Eigen::MatrixXf& inputs, ForwardCache& cache) const;
  Eigen::MatrixXf Logits(const Eigen::MatrixXf& inputs) const;

 private:
  std::vector<int> widths_;
  std::vector<DenseLayer> layers_;
};

// e = dL/dz of the batch-mean softmax cross-entropy: (softmax(z) - onehot(y))
// / batch. Also returns the mean loss through `loss` when non-null.
Eigen::MatrixXf OutputError(const Eigen::MatrixXf& logits, std::span<const int> labels,
                            double* loss = nullptr);

// Exact gradients of the batch-mean loss.
Gradients BackpropGradients(const DenseNetwork& net, const ForwardCache& cache,
                            const Eigen::MatrixXf& output_error);

// DFA: the output layer gets its true gradient; hidden layer l gets
// delta_l = feedback[l] .* ReLU'(a_l), where feedback[l] (width_l x batch)
// stands for B_l e (already normalised) and replaces W_{l+1}^T delta_{l+1}.
Gradients DfaGradients(const DenseNetwork& net, const ForwardCache& cache,
                       const Eigen::MatrixXf& output_error,
                       std::span<const Eigen::MatrixXf> feedback);

// SGD with momentum in PyTorch's form: v = mu v + g; p -= lr v.
class MomentumSgd {
 public:
  MomentumSgd(const DenseNetwork& net, float learning_rate, float momentum);
  void Step(DenseNetwork& net, const Gradients& gradients);
  Gradients& velocity() { return velocity_; }
  const Gradients& velocity() const { return velocity_; }

 private:
  float learning_rate_;
  float momentum_;
  Gradients velocity_;
};

// Fraction of samples whose largest logit is their label.
double Accuracy(const DenseNetwork& net, const Eigen::MatrixXf& inputs,
                std::span<const int> labels);

// Angle (degrees) between two updates, all layers but the output flattened.
double HiddenUpdateAngleDeg(const Gradients& a, const Gradients& b);

}  // namespace phc::trainers
