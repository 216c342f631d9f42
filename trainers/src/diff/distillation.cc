#include "phc/trainers/diff/distillation.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "phc/trainers/onn_model.h"
#include "photonsim/phase.h"

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

double NormalisedKernelDistance(const Eigen::MatrixXd& teacher_kernel,
                                const Eigen::MatrixXd& kernel, Eigen::MatrixXd* kernel_gradient) {
  const double b = static_cast<double>(kernel.rows());
  // A kernel of zeros (e.g. every feature of the batch clipped to 0) has no
  // scale; the floor keeps the loss and its gradient finite.
  constexpr double kFloor = 1e-300;
  const double s_t = std::max(teacher_kernel.diagonal().mean(), kFloor);
  const double s = std::max(kernel.diagonal().mean(), kFloor);
  const Eigen::MatrixXd r = teacher_kernel / s_t - kernel / s;
  const double loss = r.squaredNorm() / (b * b);
  if (kernel_gradient != nullptr) {
    // L = |R|^2 / B^2, R = T/s_T - K/s, s = tr K / B:
    // dL/dK = (-2 R / s + 2 <R, K> / (s^2 B) I) / B^2.
    Eigen::MatrixXd g = -2.0 / s * r;
    g.diagonal().array() += 2.0 * (r.cwiseProduct(kernel)).sum() / (s * s * b);
    *kernel_gradient = g / (b * b);
  }
  return loss;
}

double KernelAlignmentLoss(const Eigen::MatrixXd& teacher_kernel, const Eigen::MatrixXd& features,
                           Eigen::MatrixXd* features_gradient) {
  const Eigen::MatrixXd k = (features * features.transpose()).array() + 1.0;
  Eigen::MatrixXd g;
  const double loss =
      NormalisedKernelDistance(teacher_kernel, k, features_gradient != nullptr ? &g : nullptr);
  // K = H H^T + 1 gives dL/dH = (G + G^T) H.
  if (features_gradient != nullptr) *features_gradient = (g + g.transpose()) * features;
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

HybridStudent MakeHybridStudent(int modes, int blocks, int hidden, int classes,
                                std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  HybridStudent s;
  for (int b = 0; b < blocks; ++b) {
    if (b > 0) s.frontend.Add(std::make_unique<ReencodeLayer>(modes));
    s.frontend.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(modes)));
    s.frontend.Add(std::make_unique<DetectLayer>(modes));
  }
  std::uniform_real_distribution<double> phase(0.0, photonsim::kTwoPi);
  for (MeshLayer* mesh : s.frontend.meshes()) {
    for (double& p : mesh->parameters()) p = phase(rng);
  }
  s.backend.Add(std::make_unique<DenseLayer>(modes, hidden, rng));
  s.backend.Add(std::make_unique<ReluLayer>(hidden));
  s.backend.Add(std::make_unique<DenseLayer>(hidden, classes, rng));
  return s;
}

Network MakeTeacher(int inputs, int hidden, int classes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Network teacher;
  teacher.Add(std::make_unique<DenseLayer>(inputs, hidden, rng));
  teacher.Add(std::make_unique<ReluLayer>(hidden));
  teacher.Add(std::make_unique<DenseLayer>(hidden, classes, rng));
  return teacher;
}

namespace {
Eigen::MatrixXd Rows(const Eigen::MatrixXd& m, const std::vector<int>& order, int start, int n) {
  Eigen::MatrixXd out(n, m.cols());
  for (int i = 0; i < n; ++i) out.row(i) = m.row(order[start + i]);
  return out;
}
bool Every(const Layer&) { return true; }
}  // namespace

void TrainHybrid(HybridStudent& s, Network* teacher, const Eigen::MatrixXd& features,
                 const Eigen::MatrixXd& teacher_inputs, std::span<const int> labels, int epochs,
                 double learning_rate, double beta, bool train_frontend, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  AdamGroup front(s.frontend, Every, learning_rate);
  AdamGroup back(s.backend, Every, learning_rate);
  std::vector<int> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  const int batch = std::min<int>(64, static_cast<int>(labels.size()));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int start = 0; start + batch <= static_cast<int>(order.size()); start += batch) {
      const Eigen::MatrixXd x = Rows(features, order, start, batch);
      std::vector<int> y;
      for (int i = 0; i < batch; ++i) y.push_back(labels[order[start + i]]);
      Eigen::MatrixXd kernel;
      if (beta > 0.0 && teacher != nullptr) {
        kernel = ReadoutKernel(*teacher, Rows(teacher_inputs, order, start, batch));
      }
      DistillationGradients(s.frontend, s.backend, x, y, kernel, 1.0,
                            teacher != nullptr ? beta : 0.0, nullptr, train_frontend)
          .IgnoreError();  // in silico: cannot fail
      if (train_frontend) front.Step();
      back.Step();
    }
  }
}

double HybridAccuracy(HybridStudent& s, const Eigen::MatrixXd& features,
                      std::span<const int> labels, BlockMeasurer* physical) {
  absl::StatusOr<Eigen::MatrixXd> logits = HybridLogits(s.frontend, s.backend, features, physical);
  return logits.ok() ? Accuracy(*logits, std::vector<int>(labels.begin(), labels.end())) : -1.0;
}

}  // namespace phc::trainers::diff
