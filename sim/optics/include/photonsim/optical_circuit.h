// The optical circuits a chip is made of, behind one interface: an MZI mesh,
// an SVD core (U Sigma V^dagger) or a microring weight bank. A circuit maps
// input field amplitudes (sqrt(mW), one per modulator) to the optical power
// at its detectors. Balanced detectors (microring banks, coherent SVD cores'
// homodyne pairs) report the power at both photodiodes; the signal is
// positive minus negative.
#pragma once

#include <memory>
#include <span>

#include "photonsim/chip_layout.h"
#include "photonsim/eigen.h"

namespace photonsim {

using RowMajorMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Rows of a larger row-major matrix (a circuit's columns of the chip's).
using ConstRowsRef = Eigen::Ref<const RowMajorMatrixXd, 0, Eigen::OuterStride<>>;
using RowsRef = Eigen::Ref<RowMajorMatrixXd, 0, Eigen::OuterStride<>>;

class OpticalCircuit {
 public:
  virtual ~OpticalCircuit() = default;

  // splitting errors: 2 per MZI slot; amplitude: 1 per MZI slot (ignored by
  // rings; a coherent core's homodyne stages, see chip_layout.h).
  virtual void SetImperfections(std::span<const double> splitting_errors_rad,
                                std::span<const double> mzi_amplitude) = 0;
  // Phase of every shifter of the circuit (rings: round-trip detuning).
  virtual void SetPhases(std::span<const double> phases_rad) = 0;
  // A phase added to every shifter's (a common temperature drift).
  virtual void SetCommonPhaseOffset(double offset_rad) = 0;
  // input_fields: input_count() real (signed) amplitudes; positive_mw/negative_mw:
  // output_count() powers (negative_mw is 0 for single detectors).
  virtual void Detect(std::span<const double> input_fields, std::span<double> positive_mw,
                      std::span<double> negative_mw) const = 0;
  // Detect for a batch: row r of input_fields (rows x input_count()) gives
  // row r of positive_mw and negative_mw (rows x output_count()), every
  // entry of both written (SimChip does not clear them first). Meshes
  // and SVD cores propagate the whole batch together (MziMesh::Propagate);
  // the default runs Detect row by row.
  virtual void DetectBatch(ConstRowsRef input_fields, RowsRef positive_mw,
                           RowsRef negative_mw) const;
  // Whether outputs are balanced photodiode pairs.
  virtual bool balanced() const = 0;
};

// REQUIRES: circuit from BuildChipLayout of a valid description.
std::unique_ptr<OpticalCircuit> MakeOpticalCircuit(const CircuitLayout& circuit);

}  // namespace photonsim
