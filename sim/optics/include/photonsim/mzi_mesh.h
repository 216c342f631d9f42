// Meshes of Mach-Zehnder interferometers on N modes.
//
// A mesh is an ordered list of MZIs, each coupling two modes; light meets
// them in list order. MZI m has two phase shifters: phase index 2m is its
// internal phase theta, 2m + 1 its external phase phi (see mzi.h). Factories
// build the standard topologies; MZIs are listed column by column, top to
// bottom, and `column` is the earliest layer each can occupy.
//
// Imperfections (coupler splitting errors, insertion loss) are set
// separately from phases, so the same mesh serves as ideal model and as
// fabricated truth. An optional output phase screen D gives U = D * M.
//
// Cost: SetPhases rebuilds only the MZIs whose phases changed, in one batch
// (vectorised sincos, then the closed form of MziMatrix with the couplers
// folded in), so a write that moves a few phases costs a few MZIs.
// Propagate walks the batch in blocks that stay in the L1 cache.
//
// Thread safety: const methods may run concurrently; setters may not.
#pragma once

#include <span>
#include <vector>

#include "photonsim/eigen.h"

namespace photonsim {

struct MziPlacement {
  int column = 0;
  int top_mode = 0;
  int bottom_mode = 0;
};

class MziMesh {
 public:
  // REQUIRES: modes >= 2 (butterfly: a power of two).
  static MziMesh Clements(int modes);
  static MziMesh Reck(int modes);
  static MziMesh Butterfly(int modes);

  // MZIs in the order light meets them; columns are assigned here.
  MziMesh(int modes, const std::vector<std::pair<int, int>>& mode_pairs);

  int mode_count() const { return mode_count_; }
  int mzi_count() const { return static_cast<int>(placements_.size()); }
  int phase_count() const { return 2 * mzi_count(); }
  int column_count() const { return column_count_; }
  const std::vector<MziPlacement>& placements() const { return placements_; }

  // splitting_errors_rad: input and output coupler of each MZI in turn
  // (2 * mzi_count() values); amplitude_transmission: per MZI, in (0, 1]
  // (insertion loss L dB gives 10^(-L/20)). Empty spans mean ideal.
  void SetImperfections(std::span<const double> splitting_errors_rad,
                        std::span<const double> amplitude_transmission);

  // REQUIRES: phases_rad.size() == phase_count().
  void SetPhases(std::span<const double> phases_rad);
  // A phase added to every shifter (a common temperature drift): cheaper
  // than SetPhases with every phase moved, since no sine is recomputed.
  void SetCommonPhaseOffset(double offset_rad);
  // REQUIRES: empty (no screen) or mode_count() values.
  void SetOutputPhases(std::span<const double> output_phases_rad);

  // Propagates a batch in place. fields is batch x N: each row one input
  // field vector, replaced by its output (row-wise y = U x). No allocation.
  // REQUIRES: fields.cols() == mode_count().
  void Propagate(MatrixXc& fields) const;

  // Batch rows propagated together through every MZI before the next block:
  // blocks of about 16 KiB of fields stay in the L1 cache.
  int batch_block_rows() const;

  // The N x N transfer matrix U (outputs = U * inputs), built on request.
  MatrixXc TransferMatrix() const;

  // The MZI's 2x2 transfer matrix as currently set.
  Matrix2c mzi_transfer(int mzi) const;

 private:
  // Transfer matrix entries, structure of arrays: entry k of MZI m is at
  // transfer_[k * mzi_count() + m], k = 0..7 for
  // re t00, im t00, re t01, im t01, re t10, im t10, re t11, im t11.
  double* transfer(int k) { return transfer_.data() + static_cast<std::size_t>(k) * mzi_count(); }
  const double* transfer(int k) const {
    return transfer_.data() + static_cast<std::size_t>(k) * mzi_count();
  }
  void RebuildCouplerTerms();
  // Recomputes the unit phasors of the listed MZIs from phases_rad_.
  void RebuildPhasors(std::span<const int> mzis);
  // Recomputes transfer_ of the listed MZIs (of every MZI if `all`) from
  // their phasors, couplers and the offset.
  void RebuildTransfers(std::span<const int> mzis, bool all);
  void PropagateRows(Complex* fields, Eigen::Index stride, Eigen::Index rows) const;

  int mode_count_;
  int column_count_ = 0;
  std::vector<MziPlacement> placements_;
  std::vector<double> phases_rad_;
  std::vector<double> splitting_errors_rad_;
  std::vector<double> amplitude_;
  std::vector<Complex> output_phase_factors_;
  // Per MZI, couplers and loss folded into four numbers (see mzi_mesh.cc).
  std::vector<double> cc_, ss_, sc_, cs_;
  // Per MZI, cos and sin of theta and phi as set (without the offset).
  std::vector<double> cos_theta_, sin_theta_, cos_phi_, sin_phi_;
  double offset_rad_ = 0.0;
  double offset_cos_ = 1.0, offset_sin_ = 0.0;
  std::vector<double> transfer_;
  // Scratch: MZIs to rebuild, their angles, sines, cosines.
  std::vector<int> dirty_mzis_;
  std::vector<double> angles_rad_, sines_, cosines_;
};

}  // namespace photonsim
