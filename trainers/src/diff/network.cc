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

std::size_t Network::BlockEnd(std::size_t mesh) const {
  std::size_t j = mesh + 1;
  while (j < layers_.size() && (layers_[j]->in_optical_block() ||
                                dynamic_cast<MeshLayer*>(layers_[j].get()) != nullptr)) {
    ++j;
  }
  if (j < layers_.size() && dynamic_cast<DetectLayer*>(layers_[j].get()) != nullptr) return j;
  return layers_.size();
}

std::vector<Network::OpticalBlock> Network::OpticalBlocks() const {
  std::vector<OpticalBlock> blocks;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (dynamic_cast<MeshLayer*>(layers_[i].get()) == nullptr) continue;
    const std::size_t end = BlockEnd(i);
    if (end == layers_.size()) continue;
    blocks.push_back({i, end});
    i = end;
  }
  return blocks;
}

MatrixXc Network::ForwardRange(const OpticalBlock& block, const MatrixXc& x) {
  MatrixXc y = x;
  for (std::size_t j = block.first; j <= block.last; ++j) y = layers_[j]->Forward(y);
  return y;
}

MatrixXc Network::BackwardRange(const OpticalBlock& block, const MatrixXc& delta) {
  MatrixXc d = delta;
  for (std::size_t j = block.last + 1; j-- > block.first;) d = layers_[j]->Backward(d);
  return d;
}

void Network::ZeroGradients() {
  for (const auto& layer : layers_) layer->ZeroGradients();
}

void Network::Backward(const Eigen::MatrixXd& logits_gradient) {
  MatrixXc delta = logits_gradient.cast<Complex>();
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) delta = (*it)->Backward(delta);
}

double Network::LossAndGradients(const Eigen::MatrixXd& features, std::span<const int> labels) {
  ZeroGradients();
  Eigen::MatrixXd gradient;
  const double loss = SoftmaxCrossEntropy(Forward(features), labels, &gradient);
  Backward(gradient);
  return loss;
}

absl::StatusOr<Eigen::MatrixXd> Network::ForwardMeasured(const Eigen::MatrixXd& features,
                                                         BlockMeasurer& physical,
                                                         std::vector<MatrixXc>* inputs,
                                                         std::vector<Eigen::MatrixXd>* measured) {
  MatrixXc x = features.cast<Complex>();
  int block = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto* mesh = dynamic_cast<MeshLayer*>(layers_[i].get());
    const std::size_t detector = BlockEnd(i);
    if (mesh == nullptr || detector == layers_.size()) {
      x = layers_[i]->Forward(x);
      continue;
    }
    const MatrixXc fields = x;
    std::vector<const MeshLayer*> meshes;
    for (std::size_t j = i; j <= detector; ++j) {
      if (auto* m = dynamic_cast<MeshLayer*>(layers_[j].get())) meshes.push_back(m);
      x = layers_[j]->Forward(x);  // model states
    }
    absl::StatusOr<Eigen::MatrixXd> powers = physical.Measure(block++, meshes, fields);
    if (!powers.ok()) return powers.status();
    if (inputs) inputs->push_back(fields);
    if (measured) measured->push_back(*powers);
    x = powers->cast<Complex>();
    i = detector;  // the block ran on the chip
  }
  return x.real();
}

absl::StatusOr<double> Network::LossAndGradientsMeasured(const Eigen::MatrixXd& features,
                                                         std::span<const int> labels,
                                                         BlockMeasurer& physical) {
  ZeroGradients();
  absl::StatusOr<Eigen::MatrixXd> logits = ForwardMeasured(features, physical);
  if (!logits.ok()) return logits.status();
  Eigen::MatrixXd gradient;
  const double loss = SoftmaxCrossEntropy(*logits, labels, &gradient);
  Backward(gradient);
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

std::vector<double> Adam::SaveState() const {
  std::vector<double> state = {static_cast<double>(t_)};
  state.insert(state.end(), m_.data(), m_.data() + m_.size());
  state.insert(state.end(), v_.data(), v_.data() + v_.size());
  return state;
}

absl::Status Adam::RestoreState(std::span<const double> state) {
  if (state.size() != static_cast<std::size_t>(1 + m_.size() + v_.size())) {
    return absl::InvalidArgumentError("optimizer state does not fit the model");
  }
  t_ = static_cast<int>(state[0]);
  m_ = Eigen::Map<const Eigen::VectorXd>(state.data() + 1, m_.size());
  v_ = Eigen::Map<const Eigen::VectorXd>(state.data() + 1 + m_.size(), v_.size());
  return absl::OkStatus();
}

AdamGroup::AdamGroup(Network& net, Selector select, double learning_rate)
    : net_(net),
      select_(std::move(select)),
      adam_(static_cast<int>(Gather(false).size()), learning_rate) {}

Eigen::VectorXd AdamGroup::Gather(bool gradients) const {
  std::vector<double> out;
  for (const auto& layer : net_.layers()) {
    if (!select_(*layer)) continue;
    const std::span<double> values = gradients ? layer->gradients() : layer->parameters();
    out.insert(out.end(), values.begin(), values.end());
  }
  return Eigen::Map<Eigen::VectorXd>(out.data(), static_cast<Eigen::Index>(out.size()));
}

void AdamGroup::Step() {
  Eigen::VectorXd params = Gather(false);
  adam_.Step(params, Gather(true));
  Eigen::Index k = 0;
  for (const auto& layer : net_.layers()) {
    if (!select_(*layer)) continue;
    for (double& p : layer->parameters()) p = params(k++);
  }
}

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
