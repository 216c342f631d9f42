// Neural-tangent knowledge distillation (NTKD, Xiang et al. 2025) for a
// hybrid ONN: an optical frontend (the chip's mesh blocks) and a digital
// backend, distilled from an electronic teacher by aligning the two
// networks' neural tangent kernels on each minibatch, L = alpha CE + beta
// L_NTK; after fabrication only the backend is fine-tuned, on the
// frontend's measured outputs, with the same loss.
//
// The kernels here are the readout layer's term of the empirical NTK:
// for logits f = W h + b, sum_c df_c(x_i)/d(W, b) . df_c(x_j)/d(W, b) =
// C (h_i . h_j + 1), the same for teacher and student, each normalised by
// its mean diagonal (the teacher is much larger than the student). The
// paper's NTK covers every parameter (estimated NTK-SAP style); this term
// has an exact first-order gradient through the student.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "phc/trainers/diff/network.h"

namespace phc::trainers::diff {

// The readout-layer NTK of a network whose last layer is a DenseLayer, on a
// batch: K = H H^T + 1 (per class), H = the readout's inputs.
Eigen::MatrixXd ReadoutKernel(Network& net, const Eigen::MatrixXd& inputs);

// || T / mean diag T - K / mean diag K ||_F^2 / B^2 for two B x B kernels on
// the same batch, and its gradient with respect to K when requested.
double NormalisedKernelDistance(const Eigen::MatrixXd& teacher_kernel,
                                const Eigen::MatrixXd& kernel, Eigen::MatrixXd* kernel_gradient);

// NormalisedKernelDistance with K = H H^T + 1, and
// its gradient with respect to the features H (B x d) when requested.
double KernelAlignmentLoss(const Eigen::MatrixXd& teacher_kernel, const Eigen::MatrixXd& features,
                           Eigen::MatrixXd* features_gradient);

struct DistillationLoss {
  double cross_entropy = 0.0;
  double kernel = 0.0;
};

// One minibatch of the student = frontend (optical blocks; measured on
// `physical` when given, else the model) + backend (digital, last layer a
// DenseLayer). Replaces both networks' gradients (the frontend's only when
// train_frontend). beta = 0: plain cross-entropy.
absl::StatusOr<DistillationLoss> DistillationGradients(
    Network& frontend, Network& backend, const Eigen::MatrixXd& inputs, std::span<const int> labels,
    const Eigen::MatrixXd& teacher_kernel, double alpha, double beta, BlockMeasurer* physical,
    bool train_frontend);

// Logits of frontend + backend (the frontend measured when `physical`).
absl::StatusOr<Eigen::MatrixXd> HybridLogits(Network& frontend, Network& backend,
                                             const Eigen::MatrixXd& inputs,
                                             BlockMeasurer* physical);

// The hybrid student: `blocks` optical blocks of an N-mode mesh (detection,
// re-encoding between blocks) and a digital backend N -> hidden -> classes.
struct HybridStudent {
  Network frontend;
  Network backend;
};
HybridStudent MakeHybridStudent(int modes, int blocks, int hidden, int classes, std::uint64_t seed);

// An electronic teacher: inputs -> hidden (ReLU) -> classes.
Network MakeTeacher(int inputs, int hidden, int classes, std::uint64_t seed);

// Epochs of Adam (batch 64) on the student with alpha = 1 and weight beta
// on the NTK term (the teacher's kernel from `teacher_inputs`, the same
// samples' rows); the frontend too when train_frontend.
void TrainHybrid(HybridStudent& student, Network* teacher, const Eigen::MatrixXd& features,
                 const Eigen::MatrixXd& teacher_inputs, std::span<const int> labels, int epochs,
                 double learning_rate, double beta, bool train_frontend, std::uint64_t seed);

double HybridAccuracy(HybridStudent& student, const Eigen::MatrixXd& features,
                      std::span<const int> labels, BlockMeasurer* physical);

}  // namespace phc::trainers::diff
