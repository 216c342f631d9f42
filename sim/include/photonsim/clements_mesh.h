// Rectangular (Clements) mesh of MZIs on N modes.
//
// Column c holds MZIs on mode pairs (k, k+1) for k = c % 2, c % 2 + 2, ...
// with k + 1 < N; there are N columns and N(N-1)/2 MZIs. MZI m has two phase
// shifters: phase index 2m is its internal phase theta, 2m + 1 its external
// phase phi. MZIs are numbered column by column, top to bottom.
//
// Thread safety: const methods may be called concurrently; SetPhases may not.
#pragma once

#include <span>
#include <vector>

#include "photonsim/eigen.h"

namespace photonsim {

struct MziPlacement {
  int column = 0;
  int top_mode = 0;  // the MZI couples modes top_mode and top_mode + 1
};

class ClementsMesh {
 public:
  // REQUIRES: mode_count >= 2.
  explicit ClementsMesh(int mode_count);

  int mode_count() const { return mode_count_; }
  int mzi_count() const { return static_cast<int>(placements_.size()); }
  int phase_count() const { return 2 * mzi_count(); }
  const std::vector<MziPlacement>& placements() const { return placements_; }

  // REQUIRES: phases_rad.size() == phase_count(), and, if given,
  // splitting_errors_rad.size() == 2 * mzi_count() (input, output coupler of
  // each MZI in turn).
  void SetPhases(std::span<const double> phases_rad,
                 std::span<const double> splitting_errors_rad = {});

  // Propagates a batch in place. fields is batch x N: each row is one input
  // field vector and becomes the matching output (row-wise y = U x).
  // REQUIRES: fields.cols() == mode_count().
  void Propagate(MatrixXc& fields) const;

  // The N x N transfer matrix U, built on request (outputs = U * inputs).
  MatrixXc TransferMatrix() const;

 private:
  int mode_count_;
  std::vector<MziPlacement> placements_;
  std::vector<Matrix2c> mzi_transfers_;
};

}  // namespace photonsim
