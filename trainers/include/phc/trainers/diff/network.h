// A differentiable ONN as a stack of layers, the loss and its gradient in
// one call, and Adam over every trainable parameter.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <span>
#include <vector>

#include "phc/trainers/diff/layers.h"

namespace phc::trainers::diff {

class Network {
 public:
  Network() = default;
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;

  Layer& Add(std::unique_ptr<Layer> layer);
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  std::vector<MeshLayer*> meshes() const;

  // Logits (batch x classes) of real features (batch x inputs).
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& features);
  // Mean softmax cross-entropy; replaces gradients() with its gradient.
  double LossAndGradients(const Eigen::MatrixXd& features, std::span<const int> labels);

  int parameter_count() const;
  Eigen::VectorXd Parameters() const;
  void SetParameters(const Eigen::VectorXd& parameters);
  Eigen::VectorXd Gradients() const;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

class Adam {
 public:
  explicit Adam(int size, double learning_rate, double beta1 = 0.9, double beta2 = 0.999,
                double epsilon = 1e-8);
  // parameters -= step from gradient.
  void Step(Eigen::VectorXd& parameters, const Eigen::VectorXd& gradient);
  void set_learning_rate(double learning_rate) { learning_rate_ = learning_rate; }

 private:
  double learning_rate_, beta1_, beta2_, epsilon_;
  Eigen::VectorXd m_, v_;
  int t_ = 0;
};

}  // namespace phc::trainers::diff
