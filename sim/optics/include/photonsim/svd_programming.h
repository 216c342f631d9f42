// Programming an SVD core (svd { size: N }: V-dagger mesh, N attenuator
// MZIs, U mesh) to a target matrix W.
//
// W = U S V^H (SVD). V^H is decomposed onto the first Clements mesh; the
// attenuators carry S / s_max (theta_k = 2 asin(s_k / s_max)); what is left
// of V^H's output phase screen and the attenuators' own phases i e^{i theta/2}
// is folded into the unitary programmed on the second mesh. The core then
// realises W / s_max up to a phase on each output, which intensity detection
// does not see.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "photonsim/eigen.h"

namespace photonsim {

struct SvdCoreProgram {
  std::vector<double> phases_rad;  // the core's phase order
  double scale = 1.0;              // s_max: W = scale * D * T(phases), D diagonal phases
};

// INVALID_ARGUMENT for a non-square, empty, all-zero or non-finite W.
absl::StatusOr<SvdCoreProgram> ProgramSvdCore(const MatrixXc& w);

// The transfer matrix of an ideal SVD core with the given phases.
// REQUIRES: phases_rad.size() == 2 n (n - 1) + n.
MatrixXc SvdCoreTransfer(int n, const std::vector<double>& phases_rad);

}  // namespace photonsim
