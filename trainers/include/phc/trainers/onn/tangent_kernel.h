// The empirical neural tangent kernel of a model over all its parameters,
// and NTK-aligned knowledge distillation (NTKD, Xiang et al. 2025) of a
// hybrid optical/digital student from an electronic teacher.
//
// For logits f(x; theta) in R^C the kernel on a batch is
//   K_ij = sum_c df_c(x_i)/dtheta . df_c(x_j)/dtheta = trace(J_i J_j^T).
// For random tangents e ~ N(0, I), E[(J_i e) . (J_j e)] = K_ij, so
//   K^_ij = 1/S sum_s u_s(x_i) . u_s(x_j),  u_s(x) = (f(x; theta + h e_s) - f(x; theta)) / h,
// one forward pass per tangent (NTK-SAP's estimate by perturbing the
// parameters), h = step / sqrt(P) so that the perturbation's norm is about
// `step`. The estimate's loss has an exact gradient for fixed tangents:
//   dL/dtheta = sum_s (J(theta + h e_s)^T - J(theta)^T) dL/du_s / h,
// one more forward and backward pass per tangent.
//
// The distillation loss is alpha CE + beta D(T, K^) with D the normalised
// kernel distance (diff::NormalisedKernelDistance): the teacher's and the
// student's kernels on the same minibatch, each divided by its mean
// diagonal. With first_layer > 0 the kernel is over the parameters of the
// layers from first_layer on, whose inputs are given (after fabrication:
// the frontend's measured outputs, the backend's parameters).
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>

#include "absl/status/status.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {

struct TangentKernelOptions {
  int tangents = 4;    // random tangents per estimate, in [1, 4096]
  double step = 1e-3;  // norm of each parameter perturbation, in (0, 1]
};

struct NtkdOptions {
  double alpha = 1.0;  // cross-entropy weight, >= 0
  double beta = 1.0;   // kernel-distance weight, >= 0
  TangentKernelOptions kernel = {};
};

// INVALID_ARGUMENT naming the option and its range.
absl::Status ValidateNtkdOptions(const NtkdOptions& options);

// K^ (batch x batch) of the model's logits with respect to the parameters
// of the layers from first_layer on, at `x` (that layer's inputs).
// REQUIRES: valid options, first_layer < layers, the layers from it have parameters.
Eigen::MatrixXd EstimateTangentKernel(Model& model, const Eigen::MatrixXd& x,
                                      const TangentKernelOptions& options, std::mt19937_64& rng,
                                      std::size_t first_layer = 0);

// The exact kernel, by one backward pass per sample and class (for tests
// and small models).
Eigen::MatrixXd ExactTangentKernel(Model& model, const Eigen::MatrixXd& x,
                                   std::size_t first_layer = 0);

struct NtkdLoss {
  double cross_entropy = 0.0;
  double kernel_distance = 0.0;
  double total = 0.0;  // alpha * cross_entropy + beta * kernel_distance
};

// One minibatch of the student: the loss against the teacher's kernel on
// the same samples, its gradient in model.Gradients() (zero for the layers
// before first_layer), the logits at the unperturbed parameters in
// `logits` when given. The parameters are left as they were.
// REQUIRES: teacher_kernel is x.rows() square; labels.size() == x.rows().
NtkdLoss NtkdLossAndGradients(Model& student, const Eigen::MatrixXd& x, std::span<const int> labels,
                              const Eigen::MatrixXd& teacher_kernel, const NtkdOptions& options,
                              std::mt19937_64& rng, std::size_t first_layer = 0,
                              Eigen::MatrixXd* logits = nullptr);

// A MinibatchLoss for TrainInSilico: the teacher's kernel on its own inputs
// of the minibatch's rows (teacher_inputs has one row per training sample,
// in the training set's order), then NtkdLossAndGradients. `teacher` and
// `teacher_inputs` must outlive the returned function.
MinibatchLoss NtkdMinibatchLoss(Model& teacher, const Eigen::MatrixXd& teacher_inputs,
                                const NtkdOptions& options, std::size_t first_layer,
                                std::uint64_t seed);

}  // namespace phc::trainers::onn
