#include "phc/trainers/diff/distillation.h"

namespace phc::trainers::diff {
namespace {

// Runs every layer but the last; returns the readout's inputs.
MatrixXc ForwardToReadout(Network& net, const MatrixXc& x) {
  MatrixXc h = x;
  const auto& layers = net.layers();
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) h = layers[i]->Forward(h);
  return h;
}

absl::StatusOr<Eigen::MatrixXd> FrontendOutput(Network& frontend, const Eigen::MatrixXd& inputs,
                                               BlockMeasurer* physical) {
  if (physical != nullptr) return frontend.ForwardMeasured(inputs, *physical);
  return frontend.Forward(inputs);
}

}  // namespace

Eigen::MatrixXd ReadoutKernel(Network& net, const Eigen::MatrixXd& inputs) {
  const Eigen::MatrixXd h = ForwardToReadout(net, inputs.cast<Complex>()).real();
  return (h * h.transpose()).array() + 1.0;
}

double KernelAlignmentLoss(const Eigen::MatrixXd& teacher_kernel, const Eigen::MatrixXd& features,
                           Eigen::MatrixXd* features_gradient) {
  const double b = static_cast<double>(features.rows());
  const Eigen::MatrixXd k = (features * features.transpose()).array() + 1.0;
  const double s_t = teacher_kernel.diagonal().mean();
  const double s = k.diagonal().mean();
  const Eigen::MatrixXd r = teacher_kernel / s_t - k / s;
  const double loss = r.squaredNorm() / (b * b);
  if (features_gradient != nullptr) {
    // L = |R|^2 / B^2, R = T/s_T - K/s, s = tr K / B:
    // dL/dK = (-2 R / s + 2 <R, K> / (s^2 B) I) / B^2; K = H H^T + 1 gives
    // dL/dH = (G + G^T) H.
    Eigen::MatrixXd g = -2.0 / s * r;
    g.diagonal().array() += 2.0 * (r.cwiseProduct(k)).sum() / (s * s * b);
    g /= b * b;
    *features_gradient = (g + g.transpose()) * features;
  }
  return loss;
}

absl::StatusOr<Eigen::MatrixXd> HybridLogits(Network& frontend, Network& backend,
                                             const Eigen::MatrixXd& inputs,
                                             BlockMeasurer* physical) {
  absl::StatusOr<Eigen::MatrixXd> front = FrontendOutput(frontend, inputs, physical);
  if (!front.ok()) return front.status();
  return backend.Forward(*front);
}

absl::StatusOr<DistillationLoss> DistillationGradients(
    Network& frontend, Network& backend, const Eigen::MatrixXd& inputs, std::span<const int> labels,
    const Eigen::MatrixXd& teacher_kernel, double alpha, double beta, BlockMeasurer* physical,
    bool train_frontend) {
  frontend.ZeroGradients();
  backend.ZeroGradients();
  absl::StatusOr<Eigen::MatrixXd> front = FrontendOutput(frontend, inputs, physical);
  if (!front.ok()) return front.status();
  const MatrixXc h = ForwardToReadout(backend, front->cast<Complex>());
  Layer& readout = *backend.layers().back();
  const Eigen::MatrixXd logits = readout.Forward(h).real();
  DistillationLoss loss;
  Eigen::MatrixXd d_logits;
  loss.cross_entropy = SoftmaxCrossEntropy(logits, labels, &d_logits);
  MatrixXc delta = readout.Backward((alpha * d_logits).cast<Complex>());
  if (beta > 0.0) {
    Eigen::MatrixXd d_h;
    loss.kernel = KernelAlignmentLoss(teacher_kernel, h.real(), &d_h);
    delta += (beta * d_h).cast<Complex>();
  }
  const auto& layers = backend.layers();
  for (std::size_t i = layers.size() - 1; i-- > 0;) delta = layers[i]->Backward(delta);
  if (train_frontend) frontend.Backward(delta.real());
  return loss;
}

}  // namespace phc::trainers::diff
