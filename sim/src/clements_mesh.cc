#include "photonsim/clements_mesh.h"

#include <cassert>

#include "photonsim/mzi.h"

namespace photonsim {

ClementsMesh::ClementsMesh(int mode_count) : mode_count_(mode_count) {
  assert(mode_count >= 2);
  for (int column = 0; column < mode_count; ++column) {
    for (int top = column % 2; top + 1 < mode_count; top += 2) {
      placements_.push_back({column, top});
    }
  }
  mzi_transfers_.assign(placements_.size(), MziMatrix(0.0, 0.0));
}

void ClementsMesh::SetPhases(std::span<const double> phases_rad,
                             std::span<const double> splitting_errors_rad) {
  assert(static_cast<int>(phases_rad.size()) == phase_count());
  assert(splitting_errors_rad.empty() ||
         static_cast<int>(splitting_errors_rad.size()) == 2 * mzi_count());
  for (int m = 0; m < mzi_count(); ++m) {
    const double err_in = splitting_errors_rad.empty() ? 0.0 : splitting_errors_rad[2 * m];
    const double err_out = splitting_errors_rad.empty() ? 0.0 : splitting_errors_rad[2 * m + 1];
    mzi_transfers_[m] = MziMatrix(phases_rad[2 * m], phases_rad[2 * m + 1], err_in, err_out);
  }
}

void ClementsMesh::Propagate(MatrixXc& fields) const {
  assert(fields.cols() == mode_count_);
  const Eigen::Index batch = fields.rows();
  for (int m = 0; m < mzi_count(); ++m) {
    const Matrix2c& t = mzi_transfers_[m];
    Complex* top = fields.col(placements_[m].top_mode).data();
    Complex* bottom = fields.col(placements_[m].top_mode + 1).data();
    const Complex t00 = t(0, 0), t01 = t(0, 1), t10 = t(1, 0), t11 = t(1, 1);
    for (Eigen::Index b = 0; b < batch; ++b) {
      const Complex a = top[b];
      const Complex c = bottom[b];
      top[b] = t00 * a + t01 * c;
      bottom[b] = t10 * a + t11 * c;
    }
  }
}

MatrixXc ClementsMesh::TransferMatrix() const {
  // Row i of the identity is input e_i; after propagation it holds U e_i,
  // i.e. column i of U.
  MatrixXc fields = MatrixXc::Identity(mode_count_, mode_count_);
  Propagate(fields);
  return fields.transpose();
}

}  // namespace photonsim
