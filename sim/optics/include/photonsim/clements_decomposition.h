// Programming a Clements mesh to a target unitary (Clements et al., Optica
// 3, 1460 (2016)): elements are nulled alternately by MZIs applied from the
// right and from the left; the left ones are then commuted through the
// remaining diagonal, which becomes an output phase screen. Phases follow
// the MZI convention of mzi.h and the MZI order of MziMesh::Clements(N).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "photonsim/eigen.h"

namespace photonsim {

struct MeshProgram {
  std::vector<double> phases_rad;         // MziMesh::Clements(N) phase order
  std::vector<double> output_phases_rad;  // the diagonal D in U = D * M(phases)
};

// INVALID_ARGUMENT unless `unitary` is square (N >= 2) and unitary to within
// `unitarity_tolerance` (max-abs of U^dagger U - I).
absl::StatusOr<MeshProgram> DecomposeClements(const MatrixXc& unitary,
                                              double unitarity_tolerance = 1e-9);

}  // namespace photonsim
