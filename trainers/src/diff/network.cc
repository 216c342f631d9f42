#include "phc/trainers/diff/network.h"

#include <cmath>

namespace phc::trainers::diff {

Layer& Network::Add(std::unique_ptr<Layer> layer) {
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

std::vector<MeshLayer*> Network::meshes() const {
  std::vector<MeshLayer*> out;
  for (const auto& layer : layers_) {
    if (auto* mesh = dynamic_cast<MeshLayer*>(layer.get())) out.push_back(mesh);
  }
  return out;
}

Eigen::MatrixXd Network::Forward(const Eigen::MatrixXd& features) {
  MatrixXc x = features.cast<Complex>();
  for (const auto& layer : layers_) x = layer->Forward(x);
  return x.real();
}

double Network::LossAndGradients(const Eigen::MatrixXd& features, std::span<const int> labels) {
  for (const auto& layer : layers_) layer->ZeroGradients();
  Eigen::MatrixXd gradient;
  const double loss = SoftmaxCrossEntropy(Forward(features), labels, &gradient);
  MatrixXc delta = gradient.cast<Complex>();
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) delta = (*it)->Backward(delta);
  return loss;
}

int Network::parameter_count() const {
  int count = 0;
  for (const auto& layer : layers_) count += static_cast<int>(layer->parameters().size());
  return count;
}

Eigen::VectorXd Network::Parameters() const {
  Eigen::VectorXd out(parameter_count());
  int k = 0;
  for (const auto& layer : layers_) {
    for (double p : layer->parameters()) out(k++) = p;
  }
  return out;
}

void Network::SetParameters(const Eigen::VectorXd& parameters) {
  int k = 0;
  for (const auto& layer : layers_) {
    for (double& p : layer->parameters()) p = parameters(k++);
  }
}

Eigen::VectorXd Network::Gradients() const {
  Eigen::VectorXd out(parameter_count());
  int k = 0;
  for (const auto& layer : layers_) {
    for (double g : layer->gradients()) out(k++) = g;
  }
  return out;
}

Adam::Adam(int size, double learning_rate, double beta1, double beta2, double epsilon)
    : learning_rate_(learning_rate),
      beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      m_(Eigen::VectorXd::Zero(size)),
      v_(Eigen::VectorXd::Zero(size)) {}

void Adam::Step(Eigen::VectorXd& parameters, const Eigen::VectorXd& gradient) {
  ++t_;
  m_ = beta1_ * m_ + (1.0 - beta1_) * gradient;
  v_ = beta2_ * v_ + (1.0 - beta2_) * gradient.cwiseAbs2();
  const double correction1 = 1.0 - std::pow(beta1_, t_);
  const double correction2 = 1.0 - std::pow(beta2_, t_);
  parameters.array() -=
      learning_rate_ * (m_.array() / correction1) / ((v_.array() / correction2).sqrt() + epsilon_);
}

}  // namespace phc::trainers::diff
