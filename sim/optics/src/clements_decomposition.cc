#include "photonsim/clements_decomposition.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"

namespace photonsim {
namespace {

struct MziSetting {
  int top_mode = 0;  // couples top_mode and top_mode + 1
  double theta = 0.0;
  double phi = 0.0;
};

// Phases (theta, phi) for which (T(theta, phi) w)[zero_index] = 0.
MziSetting NullingSetting(int top_mode, Complex w0, Complex w1, int zero_index) {
  MziSetting s{top_mode, 0.0, 0.0};
  const double phase_difference =
      (std::abs(w0) > 0.0 && std::abs(w1) > 0.0) ? std::arg(w1) - std::arg(w0) : 0.0;
  if (zero_index == 1) {
    // exp(i phi) cos(theta/2) w0 = sin(theta/2) w1
    s.theta = 2.0 * std::atan2(std::abs(w0), std::abs(w1));
    s.phi = phase_difference;
  } else {
    // exp(i phi) sin(theta/2) w0 = -cos(theta/2) w1
    s.theta = 2.0 * std::atan2(std::abs(w1), std::abs(w0));
    s.phi = phase_difference + std::numbers::pi;
  }
  return s;
}

// Rows top, top+1 of m <- T * rows.
void ApplyLeft(MatrixXc& m, const MziSetting& s) {
  const Matrix2c t = MziMatrix(s.theta, s.phi);
  for (Eigen::Index c = 0; c < m.cols(); ++c) {
    const Complex a = m(s.top_mode, c), b = m(s.top_mode + 1, c);
    m(s.top_mode, c) = t(0, 0) * a + t(0, 1) * b;
    m(s.top_mode + 1, c) = t(1, 0) * a + t(1, 1) * b;
  }
}

// Columns top, top+1 of m <- columns * T^dagger.
void ApplyRightInverse(MatrixXc& m, const MziSetting& s) {
  const Matrix2c t_inv = MziMatrix(s.theta, s.phi).adjoint();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    const Complex a = m(r, s.top_mode), b = m(r, s.top_mode + 1);
    m(r, s.top_mode) = a * t_inv(0, 0) + b * t_inv(1, 0);
    m(r, s.top_mode + 1) = a * t_inv(0, 1) + b * t_inv(1, 1);
  }
}

// Rewrites T(left)^-1 * diag(d) on modes (top, top+1) as diag(d') * T(new);
// updates d in place and returns the new setting.
MziSetting CommuteThroughDiagonal(const MziSetting& left, VectorXc& d) {
  const int a = left.top_mode;
  Matrix2c diagonal = Matrix2c::Zero();
  diagonal(0, 0) = d(a);
  diagonal(1, 1) = d(a + 1);
  const Matrix2c m = MziMatrix(left.theta, left.phi).adjoint() * diagonal;
  MziSetting s{a, 2.0 * std::atan2(std::abs(m(0, 0)), std::abs(m(0, 1))), 0.0};
  const Complex upper = m(0, 0) * std::conj(m(0, 1));
  const Complex lower = -m(1, 0) * std::conj(m(1, 1));
  const Complex pick = std::abs(upper) >= std::abs(lower) ? upper : lower;
  s.phi = std::abs(pick) > 1e-300 ? std::arg(pick) : 0.0;
  const Matrix2c e = m * MziMatrix(s.theta, s.phi).adjoint();
  d(a) = e(0, 0);
  d(a + 1) = e(1, 1);
  return s;
}

}  // namespace

absl::StatusOr<MeshProgram> DecomposeClements(const MatrixXc& unitary, double unitarity_tolerance) {
  const int n = static_cast<int>(unitary.rows());
  if (n < 2 || unitary.cols() != n) {
    return absl::InvalidArgumentError(absl::StrCat("DecomposeClements: need a square matrix of ",
                                                   "size >= 2, got ", unitary.rows(), "x",
                                                   unitary.cols()));
  }
  const double unitarity_error =
      (unitary.adjoint() * unitary - MatrixXc::Identity(n, n)).cwiseAbs().maxCoeff();
  if (!(unitarity_error <= unitarity_tolerance)) {
    return absl::InvalidArgumentError(absl::StrCat("DecomposeClements: matrix is not unitary (",
                                                   "max |U^H U - I| = ", unitarity_error, ")"));
  }

  MatrixXc m = unitary;
  std::vector<MziSetting> rights;  // in the order found = order light meets them
  std::vector<MziSetting> lefts;
  for (int i = 1; i < n; ++i) {
    if (i % 2 == 1) {
      for (int j = 0; j < i; ++j) {
        const int a = i - j - 1;
        const int row = n - j - 1;
        // Zero m(row, a): (T conj(v))[0] = 0 for v = (m(row, a), m(row, a + 1)).
        const MziSetting s =
            NullingSetting(a, std::conj(m(row, a)), std::conj(m(row, a + 1)), /*zero_index=*/0);
        ApplyRightInverse(m, s);
        rights.push_back(s);
      }
    } else {
      for (int j = 1; j <= i; ++j) {
        const int a = n + j - i - 2;
        const int column = j - 1;
        const MziSetting s = NullingSetting(a, m(a, column), m(a + 1, column), /*zero_index=*/1);
        ApplyLeft(m, s);
        lefts.push_back(s);
      }
    }
  }

  // Now L_k...L_1 U R_1^-1...R_r^-1 = D, so U = L_1^-1...L_k^-1 D R_r...R_1.
  VectorXc d = m.diagonal();
  std::vector<MziSetting> commuted(lefts.size());
  for (int k = static_cast<int>(lefts.size()) - 1; k >= 0; --k) {
    commuted[k] = CommuteThroughDiagonal(lefts[k], d);
  }
  // U = D' T'_1 ... T'_k R_r ... R_1: light meets R_1 first.
  std::vector<MziSetting> order = rights;
  for (int k = static_cast<int>(commuted.size()) - 1; k >= 0; --k) order.push_back(commuted[k]);

  // Give the i-th MZI on a mode pair the i-th Clements slot on that pair.
  const MziMesh mesh = MziMesh::Clements(n);
  std::vector<std::vector<int>> slots(n);
  for (int slot = 0; slot < mesh.mzi_count(); ++slot) {
    slots[mesh.placements()[slot].top_mode].push_back(slot);
  }
  std::vector<std::size_t> used(n, 0);
  MeshProgram program;
  program.phases_rad.assign(mesh.phase_count(), 0.0);
  for (const MziSetting& s : order) {
    if (used[s.top_mode] >= slots[s.top_mode].size()) {
      return absl::InternalError("DecomposeClements: MZI order does not fit the Clements mesh");
    }
    const int slot = slots[s.top_mode][used[s.top_mode]++];
    program.phases_rad[2 * slot] = s.theta;
    program.phases_rad[2 * slot + 1] = s.phi;
  }
  for (int k = 0; k < n; ++k) program.output_phases_rad.push_back(std::arg(d(k)));
  return program;
}

}  // namespace photonsim
