#include "phc/trainers/onn/tangent_kernel.h"

#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "phc/trainers/diff/distillation.h"
#include "phc/trainers/diff/layers.h"

namespace phc::trainers::onn {
namespace {

// Random tangents over the parameters of the layers from first_layer on,
// one per column, and the finite-difference step that gives each a
// perturbation of norm about `step`.
struct Tangents {
  int first = 0;  // index of the first perturbed parameter
  Eigen::MatrixXd directions;
  double h = 0.0;
};

Tangents DrawTangents(const Model& model, std::size_t first_layer,
                      const TangentKernelOptions& options, std::mt19937_64& rng) {
  Tangents t;
  t.first = model.FirstParameter(first_layer);
  const int count = model.parameter_count() - t.first;
  PHC_CHECK(count > 0);
  std::normal_distribution<double> normal(0.0, 1.0);
  t.directions.resize(count, options.tangents);
  for (Eigen::Index s = 0; s < t.directions.cols(); ++s) {
    for (Eigen::Index p = 0; p < count; ++p) t.directions(p, s) = normal(rng);
  }
  t.h = options.step / std::sqrt(static_cast<double>(count));
  return t;
}

Eigen::VectorXd Perturbed(const Eigen::VectorXd& theta, const Tangents& t, Eigen::Index s) {
  Eigen::VectorXd moved = theta;
  moved.tail(t.directions.rows()) += t.h * t.directions.col(s);
  return moved;
}

// u_s = (f(theta + h e_s) - f(theta)) / h for every tangent; leaves the
// model at theta with its forward state at theta.
std::vector<Eigen::MatrixXd> TangentOutputs(Model& model, const Eigen::MatrixXd& x,
                                            const Tangents& t, std::size_t first_layer,
                                            Eigen::MatrixXd* base) {
  const Eigen::VectorXd theta = model.Parameters();
  std::vector<Eigen::MatrixXd> u;
  for (Eigen::Index s = 0; s < t.directions.cols(); ++s) {
    model.SetParameters(Perturbed(theta, t, s));
    u.push_back(model.Forward(x, first_layer));
  }
  model.SetParameters(theta);
  *base = model.Forward(x, first_layer);
  for (Eigen::MatrixXd& us : u) us = (us - *base) / t.h;
  return u;
}

Eigen::MatrixXd KernelOf(const std::vector<Eigen::MatrixXd>& u) {
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(u.front().rows(), u.front().rows());
  for (const Eigen::MatrixXd& us : u) k.noalias() += us * us.transpose();
  return k / static_cast<double>(u.size());
}

}  // namespace

absl::Status ValidateNtkdOptions(const NtkdOptions& options) {
  if (!(options.alpha >= 0.0 && std::isfinite(options.alpha)))
    return absl::InvalidArgumentError(absl::StrCat("alpha must be >= 0, got ", options.alpha));
  if (!(options.beta >= 0.0 && std::isfinite(options.beta)))
    return absl::InvalidArgumentError(absl::StrCat("beta must be >= 0, got ", options.beta));
  if (options.kernel.tangents < 1 || options.kernel.tangents > 4096)
    return absl::InvalidArgumentError(
        absl::StrCat("tangents must be in [1, 4096], got ", options.kernel.tangents));
  if (!(options.kernel.step > 0.0 && options.kernel.step <= 1.0))
    return absl::InvalidArgumentError(
        absl::StrCat("kernel step must be in (0, 1], got ", options.kernel.step));
  return absl::OkStatus();
}

Eigen::MatrixXd EstimateTangentKernel(Model& model, const Eigen::MatrixXd& x,
                                      const TangentKernelOptions& options, std::mt19937_64& rng,
                                      std::size_t first_layer) {
  const Tangents t = DrawTangents(model, first_layer, options, rng);
  Eigen::MatrixXd base;
  return KernelOf(TangentOutputs(model, x, t, first_layer, &base));
}

Eigen::MatrixXd ExactTangentKernel(Model& model, const Eigen::MatrixXd& x,
                                   std::size_t first_layer) {
  const int first = model.FirstParameter(first_layer);
  const int count = model.parameter_count() - first;
  std::vector<Eigen::MatrixXd> jacobians;  // per sample: classes x parameters
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::MatrixXd logits = model.Forward(x.row(i), first_layer);
    Eigen::MatrixXd j(logits.cols(), count);
    for (Eigen::Index c = 0; c < logits.cols(); ++c) {
      Eigen::MatrixXd unit = Eigen::MatrixXd::Zero(1, logits.cols());
      unit(0, c) = 1.0;
      model.Backward(unit, first_layer);
      j.row(c) = model.Gradients().tail(count).transpose();
    }
    jacobians.push_back(std::move(j));
  }
  Eigen::MatrixXd k(x.rows(), x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index l = 0; l < x.rows(); ++l)
      k(i, l) = jacobians[i].cwiseProduct(jacobians[l]).sum();
  }
  return k;
}

NtkdLoss NtkdLossAndGradients(Model& student, const Eigen::MatrixXd& x, std::span<const int> labels,
                              const Eigen::MatrixXd& teacher_kernel, const NtkdOptions& options,
                              std::mt19937_64& rng, std::size_t first_layer,
                              Eigen::MatrixXd* logits) {
  PHC_CHECK(teacher_kernel.rows() == x.rows() && teacher_kernel.cols() == x.rows());
  PHC_CHECK(static_cast<Eigen::Index>(labels.size()) == x.rows());
  const Tangents t = DrawTangents(student, first_layer, options.kernel, rng);
  Eigen::MatrixXd base;
  const std::vector<Eigen::MatrixXd> u = TangentOutputs(student, x, t, first_layer, &base);
  NtkdLoss loss;
  Eigen::MatrixXd d_base;
  loss.cross_entropy = diff::SoftmaxCrossEntropy(base, labels, &d_base);
  Eigen::MatrixXd d_kernel;
  loss.kernel_distance = diff::NormalisedKernelDistance(teacher_kernel, KernelOf(u), &d_kernel);
  loss.total = options.alpha * loss.cross_entropy + options.beta * loss.kernel_distance;
  if (logits != nullptr) *logits = base;

  // K^ = 1/S sum_s u_s u_s^T: dL/du_s = (G + G^T) u_s / S, times beta; u_s
  // depends on theta through f(theta + h e_s) / h and -f(theta) / h.
  const Eigen::MatrixXd g_sym = d_kernel + d_kernel.transpose();
  std::vector<Eigen::MatrixXd> d_u;
  Eigen::MatrixXd d_at_base = options.alpha * d_base;
  for (const Eigen::MatrixXd& us : u) {
    d_u.push_back(options.beta / (static_cast<double>(u.size()) * t.h) * (g_sym * us));
    d_at_base -= d_u.back();
  }
  student.Backward(d_at_base, first_layer);  // the forward state is at theta
  Eigen::VectorXd gradient = student.Gradients();
  const Eigen::VectorXd theta = student.Parameters();
  for (std::size_t s = 0; s < u.size(); ++s) {
    student.SetParameters(Perturbed(theta, t, static_cast<Eigen::Index>(s)));
    student.Forward(x, first_layer);
    student.Backward(d_u[s], first_layer);
    gradient += student.Gradients();
  }
  student.SetParameters(theta);
  student.SetGradients(gradient);
  return loss;
}

MinibatchLoss NtkdMinibatchLoss(Model& teacher, const Eigen::MatrixXd& teacher_inputs,
                                const NtkdOptions& options, std::size_t first_layer,
                                std::uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [&teacher, &teacher_inputs, options, first_layer, rng](
             Model& student, const Eigen::MatrixXd& features, std::span<const int> labels,
             std::span<const int> rows, Eigen::MatrixXd* logits) {
    Eigen::MatrixXd teacher_x(static_cast<Eigen::Index>(rows.size()), teacher_inputs.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      PHC_CHECK(rows[i] >= 0 && rows[i] < teacher_inputs.rows());
      teacher_x.row(i) = teacher_inputs.row(rows[i]);
    }
    const Eigen::MatrixXd teacher_kernel =
        EstimateTangentKernel(teacher, teacher_x, options.kernel, *rng);
    return NtkdLossAndGradients(student, features, labels, teacher_kernel, options, *rng,
                                first_layer, logits)
        .total;
  };
}

}  // namespace phc::trainers::onn
