// Coherent N-mode circuits (MZI meshes and SVD cores) behind one interface,
// for models that propagate batches of input fields: the daemon's digital
// twin during calibration, and trainers.
#pragma once

#include <memory>
#include <span>

#include "photonsim/chip_layout.h"
#include "photonsim/eigen.h"

namespace photonsim {

class LinearCircuit {
 public:
  virtual ~LinearCircuit() = default;
  virtual int mode_count() const = 0;
  virtual int phase_count() const = 0;
  virtual void SetPhases(std::span<const double> phases_rad) = 0;
  // In place, batch x N, row-wise y = T x (see MziMesh::Propagate).
  virtual void Propagate(MatrixXc& fields) const = 0;
};

// An ideal (no coupler errors, lossless) model of a mesh or SVD circuit;
// nullptr for a microring bank. A coherent SVD core propagates through
// CoherentSvdCoreTransfer (svd_programming.h): its detectors read the real
// part, times 2 sqrt(P_LO) per unit of input field.
std::unique_ptr<LinearCircuit> MakeIdealLinearCircuit(const CircuitLayout& circuit);

}  // namespace photonsim
