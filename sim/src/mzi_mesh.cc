#include "photonsim/mzi_mesh.h"

#include <algorithm>
#include <cassert>

#include "photonsim/mzi.h"

namespace photonsim {

MziMesh MziMesh::Clements(int modes) {
  std::vector<std::pair<int, int>> pairs;
  for (int column = 0; column < modes; ++column) {
    for (int top = column % 2; top + 1 < modes; top += 2) pairs.emplace_back(top, top + 1);
  }
  return MziMesh(modes, pairs);
}

MziMesh MziMesh::Reck(int modes) {
  // Diagonal d couples (d, d+1), (d-1, d), ..., (0, 1): a triangle.
  std::vector<std::pair<int, int>> pairs;
  for (int d = 0; d + 1 < modes; ++d) {
    for (int top = d; top >= 0; --top) pairs.emplace_back(top, top + 1);
  }
  return MziMesh(modes, pairs);
}

MziMesh MziMesh::Butterfly(int modes) {
  assert(modes >= 2 && (modes & (modes - 1)) == 0);
  std::vector<std::pair<int, int>> pairs;
  for (int stride = 1; stride < modes; stride *= 2) {
    for (int top = 0; top < modes; ++top) {
      if ((top & stride) == 0) pairs.emplace_back(top, top + stride);
    }
  }
  return MziMesh(modes, pairs);
}

MziMesh::MziMesh(int modes, const std::vector<std::pair<int, int>>& mode_pairs)
    : mode_count_(modes) {
  assert(modes >= 2);
  std::vector<int> next_free_column(modes, 0);
  for (const auto& [top, bottom] : mode_pairs) {
    assert(0 <= top && top < bottom && bottom < modes);
    const int column = std::max(next_free_column[top], next_free_column[bottom]);
    next_free_column[top] = next_free_column[bottom] = column + 1;
    placements_.push_back({column, top, bottom});
    column_count_ = std::max(column_count_, column + 1);
  }
  phases_rad_.assign(phase_count(), 0.0);
  splitting_errors_rad_.assign(2 * mzi_count(), 0.0);
  amplitude_.assign(mzi_count(), 1.0);
  transfers_.resize(mzi_count());
  for (int m = 0; m < mzi_count(); ++m) Rebuild(m);
}

void MziMesh::Rebuild(int m) {
  transfers_[m] =
      amplitude_[m] * MziMatrix(phases_rad_[2 * m], phases_rad_[2 * m + 1],
                                splitting_errors_rad_[2 * m], splitting_errors_rad_[2 * m + 1]);
}

void MziMesh::SetImperfections(std::span<const double> splitting_errors_rad,
                               std::span<const double> amplitude_transmission) {
  assert(splitting_errors_rad.empty() ||
         static_cast<int>(splitting_errors_rad.size()) == 2 * mzi_count());
  assert(amplitude_transmission.empty() ||
         static_cast<int>(amplitude_transmission.size()) == mzi_count());
  if (splitting_errors_rad.empty()) {
    splitting_errors_rad_.assign(2 * mzi_count(), 0.0);
  } else {
    splitting_errors_rad_.assign(splitting_errors_rad.begin(), splitting_errors_rad.end());
  }
  if (amplitude_transmission.empty()) {
    amplitude_.assign(mzi_count(), 1.0);
  } else {
    amplitude_.assign(amplitude_transmission.begin(), amplitude_transmission.end());
  }
  for (int m = 0; m < mzi_count(); ++m) Rebuild(m);
}

void MziMesh::SetPhases(std::span<const double> phases_rad) {
  assert(static_cast<int>(phases_rad.size()) == phase_count());
  for (int m = 0; m < mzi_count(); ++m) {
    if (phases_rad[2 * m] != phases_rad_[2 * m] ||
        phases_rad[2 * m + 1] != phases_rad_[2 * m + 1]) {
      phases_rad_[2 * m] = phases_rad[2 * m];
      phases_rad_[2 * m + 1] = phases_rad[2 * m + 1];
      Rebuild(m);
    }
  }
}

void MziMesh::SetOutputPhases(std::span<const double> output_phases_rad) {
  assert(output_phases_rad.empty() || static_cast<int>(output_phases_rad.size()) == mode_count_);
  output_phase_factors_.clear();
  for (double phase : output_phases_rad) output_phase_factors_.push_back(std::polar(1.0, phase));
}

void MziMesh::Propagate(MatrixXc& fields) const {
  assert(fields.cols() == mode_count_);
  const Eigen::Index batch = fields.rows();
  for (int m = 0; m < mzi_count(); ++m) {
    const Matrix2c& t = transfers_[m];
    Complex* top = fields.col(placements_[m].top_mode).data();
    Complex* bottom = fields.col(placements_[m].bottom_mode).data();
    // Real arithmetic: std::complex operator* carries NaN-recovery calls
    // that keep the loop from vectorising.
    const double ar = t(0, 0).real(), ai = t(0, 0).imag(), br = t(0, 1).real(), bi = t(0, 1).imag(),
                 cr = t(1, 0).real(), ci = t(1, 0).imag(), dr = t(1, 1).real(), di = t(1, 1).imag();
    double* x = reinterpret_cast<double*>(top);
    double* y = reinterpret_cast<double*>(bottom);
    for (Eigen::Index b = 0; b < batch; ++b) {
      const double xr = x[2 * b], xi = x[2 * b + 1], yr = y[2 * b], yi = y[2 * b + 1];
      x[2 * b] = ar * xr - ai * xi + br * yr - bi * yi;
      x[2 * b + 1] = ar * xi + ai * xr + br * yi + bi * yr;
      y[2 * b] = cr * xr - ci * xi + dr * yr - di * yi;
      y[2 * b + 1] = cr * xi + ci * xr + dr * yi + di * yr;
    }
  }
  for (std::size_t k = 0; k < output_phase_factors_.size(); ++k) {
    fields.col(static_cast<Eigen::Index>(k)) *= output_phase_factors_[k];
  }
}

MatrixXc MziMesh::TransferMatrix() const {
  // Row i of the identity is input e_i; it becomes U e_i, column i of U.
  MatrixXc fields = MatrixXc::Identity(mode_count_, mode_count_);
  Propagate(fields);
  return fields.transpose();
}

}  // namespace photonsim
