// A differentiable ONN as a stack of layers, the loss and its gradient in
// one call, and Adam over every trainable parameter.
#pragma once

#include <Eigen/Core>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/diff/layers.h"

namespace phc::trainers::diff {

// The physical system behind a model's optical blocks (one or more MZI
// meshes cascaded coherently, then detectors): measures block `block`'s
// output powers, in the model's units, for the given input fields (batch x
// modes; real amplitudes on a chip's modulators) with the meshes set as
// the model's.
class BlockMeasurer {
 public:
  virtual ~BlockMeasurer() = default;
  virtual absl::StatusOr<Eigen::MatrixXd> Measure(int block,
                                                  std::span<const MeshLayer* const> meshes,
                                                  const MatrixXc& fields) = 0;
};

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

  // The same with every optical block's output replaced by what `physical`
  // measures for that block's (measured) inputs: logits of the physical
  // system, gradients through the model at its own states (physics-aware
  // training). `inputs`/`measured`, when given, receive each block's input
  // fields and measured powers.
  absl::StatusOr<Eigen::MatrixXd> ForwardMeasured(const Eigen::MatrixXd& features,
                                                  BlockMeasurer& physical,
                                                  std::vector<MatrixXc>* inputs = nullptr,
                                                  std::vector<Eigen::MatrixXd>* measured = nullptr);
  absl::StatusOr<double> LossAndGradientsMeasured(const Eigen::MatrixXd& features,
                                                  std::span<const int> labels,
                                                  BlockMeasurer& physical);
  // Optical blocks: MeshLayers cascaded coherently (with the layers acting
  // on fields between them: error predictions, optical activations), then a
  // DetectLayer (layer indices first..last).
  struct OpticalBlock {
    std::size_t first = 0;
    std::size_t last = 0;
  };
  std::vector<OpticalBlock> OpticalBlocks() const;
  // One block alone, forward and backward (adds to its layers' gradients).
  MatrixXc ForwardRange(const OpticalBlock& block, const MatrixXc& x);
  MatrixXc BackwardRange(const OpticalBlock& block, const MatrixXc& delta);

  // Backward from a logits gradient (after a Forward*), adding to gradients().
  void Backward(const Eigen::MatrixXd& logits_gradient);
  void ZeroGradients();

  int parameter_count() const;
  Eigen::VectorXd Parameters() const;
  void SetParameters(const Eigen::VectorXd& parameters);
  Eigen::VectorXd Gradients() const;

 private:
  // The detector ending the optical block that starts at mesh layer `mesh`,
  // or layers_.size() when it is not a block.
  std::size_t BlockEnd(std::size_t mesh) const;
  std::vector<std::unique_ptr<Layer>> layers_;
};

class Adam {
 public:
  // Checkpoints: step count, then m, then v.
  std::vector<double> SaveState() const;
  // INVALID_ARGUMENT when the state does not fit.
  absl::Status RestoreState(std::span<const double> state);
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

// Adam over the parameters of the layers a selector picks (e.g. the
// error-prediction layers only), read from and written back to the network.
class AdamGroup {
 public:
  using Selector = std::function<bool(const Layer&)>;
  AdamGroup(Network& net, Selector select, double learning_rate);
  // One step from the layers' accumulated gradients.
  void Step();
  Adam& adam() { return adam_; }
  const Adam& adam() const { return adam_; }

 private:
  Eigen::VectorXd Gather(bool gradients) const;
  Network& net_;
  Selector select_;
  Adam adam_;
};

}  // namespace phc::trainers::diff
