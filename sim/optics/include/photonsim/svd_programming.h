// Programming an SVD core (svd { size: N }: V-dagger mesh, N attenuator
// MZIs, U mesh) to a target matrix W.
//
// W = U S V^H (SVD). V^H is decomposed onto the first Clements mesh; the
// attenuators carry S / s_max (theta_k = 2 asin(s_k / s_max)); what is left
// of V^H's output phase screen and the attenuators' own phases i e^{i theta/2}
// is folded into the unitary programmed on the second mesh. The core then
// realises W / s_max up to a phase on each output, which intensity detection
// does not see.
//
// A coherent core (svd.coherent_readout) reads each output field E_k against
// a local oscillator L_k = sqrt(P_LO) e^{i psi_k} on an ideal 50:50 coupler
// (mzi.h's CouplerMatrix, E_k on the top input, L_k on the bottom one) and a
// balanced pair, top minus bottom photodiode:
//   P_top - P_bottom = 2 Im(E_k conj(L_k)) = 2 sqrt(P_LO) Re(-i e^{-i psi_k} E_k).
// With E = sqrt(P_laser) T x (x the modulators' signed amplitudes, T the
// SvdCoreTransfer), the balanced reading in mW is
//   2 sqrt(P_laser P_LO) Re((M x)_k),  M = diag(-i e^{-i psi}) T,
// M being CoherentSvdCoreTransfer. The LO phases cancel U's output phase
// screen, so a coherent core realises a real W / s_max exactly.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "photonsim/eigen.h"

namespace photonsim {

// Phases of an SVD core of size n: 2 n (n - 1) + n, and n LO phases more
// with coherent readout.
inline int SvdCorePhaseCount(int n, bool coherent_readout) {
  return 2 * n * (n - 1) + n + (coherent_readout ? n : 0);
}

struct SvdCoreProgram {
  std::vector<double> phases_rad;  // the core's phase order
  double scale = 1.0;              // s_max: W = scale * D * T(phases), D diagonal phases
  // The phases of D (all 0 for a coherent core, which realises W / s_max).
  std::vector<double> output_phases_rad;
};

// INVALID_ARGUMENT for a non-square, empty, all-zero or non-finite W.
absl::StatusOr<SvdCoreProgram> ProgramSvdCore(const MatrixXc& w);

// The transfer matrix of an ideal SVD core with the given phases.
// REQUIRES: phases_rad.size() == SvdCorePhaseCount(n, false).
MatrixXc SvdCoreTransfer(int n, const std::vector<double>& phases_rad);

// M = diag(-i e^{-i psi}) SvdCoreTransfer: an ideal coherent core's balanced
// readings are 2 sqrt(P_laser P_LO) Re(M x) mW (see above).
// REQUIRES: phases_rad.size() == SvdCorePhaseCount(n, true).
MatrixXc CoherentSvdCoreTransfer(int n, const std::vector<double>& phases_rad);

// All SvdCorePhaseCount(n, true) phases of a coherent core realising the
// real W / s_max: CoherentSvdCoreTransfer(n, phases) = W / scale, so the
// readings are 2 sqrt(P_laser P_LO) (W x)_k / scale. ProgramSvdCore's
// phases, then psi_k = -pi/2 - (U's output phase k), wrapped to [0, 2 pi).
// INVALID_ARGUMENT as ProgramSvdCore.
absl::StatusOr<SvdCoreProgram> ProgramCoherentSvdCore(const Eigen::MatrixXd& w);

}  // namespace photonsim
