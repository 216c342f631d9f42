// The ideal model of one coherent SVD core, differentiable in its phases.
//
// A k x k core is a Clements mesh V, k attenuator MZIs, a Clements mesh U and
// a phase shifter on each output (the local-oscillator arm of its homodyne
// receiver). Its phases, in chip order:
//   [V mesh: k(k-1)] [attenuators theta: k] [U mesh: k(k-1)] [outputs psi: k]
// The field transfer is M = diag(-i e^{-i psi}) U A V with A = diag(a(theta)),
// a(theta) = i e^{i theta/2} sin(theta/2) = (e^{i theta} - 1) / 2 (an MZI's
// cross port, photonsim's convention), and the balanced homodyne receiver
// reads the real part: a real input x gives Re(M) x (times
// 2 sqrt(P_laser P_LO)). This is photonsim's CoherentSvdCoreTransfer, same
// phases, same order: in silico phases are chip phases.
//
// Thread safety: none; a core model belongs to one layer.
#pragma once

#include <Eigen/Core>
#include <span>

#include "phc/trainers/diff/layers.h"

namespace phc::trainers::onn {

class SvdCore {
 public:
  explicit SvdCore(int k);

  static int PhaseCount(int k) { return 2 * k * (k - 1) + 2 * k; }
  int size() const { return k_; }
  int phase_count() const { return PhaseCount(k_); }

  // Re(M) at these phases (phase_count() values); keeps what Backward needs.
  const Eigen::MatrixXd& Build(std::span<const double> phases_rad);
  // Complex M at the phases of the last Build.
  photonsim::MatrixXc Transfer() const;
  // Adds dL/dphase to `d_loss_d_phase` (phase_count() values) for the
  // gradient of the loss with respect to Re(M) at the last Build.
  void Backward(const Eigen::MatrixXd& d_loss_d_real_m, std::span<double> d_loss_d_phase);

 private:
  int k_;
  diff::MeshLayer v_, u_;
  // Saved by Build: fields of the k unit inputs (one per row) after V, after
  // U, and the attenuator and output phasors.
  photonsim::MatrixXc after_v_, after_u_, transfer_transposed_;
  Eigen::VectorXcd attenuator_, attenuator_slope_, screen_;
  Eigen::MatrixXd real_m_;
};

}  // namespace phc::trainers::onn
