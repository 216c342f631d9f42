#include "phc/trainers/onn/svd_core.h"

#include <algorithm>
#include <complex>

#include "phc/base/check.h"

namespace phc::trainers::onn {

using photonsim::Complex;
using photonsim::MatrixXc;

SvdCore::SvdCore(int k)
    : k_(k), v_(photonsim::MziMesh::Clements(k)), u_(photonsim::MziMesh::Clements(k)) {
  PHC_CHECK(k >= 2);
}

const Eigen::MatrixXd& SvdCore::Build(std::span<const double> phases_rad) {
  PHC_CHECK(static_cast<int>(phases_rad.size()) == phase_count());
  const int mesh = k_ * (k_ - 1);
  std::ranges::copy(phases_rad.subspan(0, mesh), v_.parameters().begin());
  std::ranges::copy(phases_rad.subspan(mesh + k_, mesh), u_.parameters().begin());
  attenuator_.resize(k_);
  attenuator_slope_.resize(k_);
  screen_.resize(k_);
  const Complex i(0.0, 1.0);
  for (int m = 0; m < k_; ++m) {
    const Complex e = std::polar(1.0, phases_rad[mesh + m]);
    attenuator_(m) = (e - 1.0) / 2.0;
    attenuator_slope_(m) = i * e / 2.0;
    screen_(m) = -i * std::polar(1.0, -phases_rad[2 * mesh + k_ + m]);
  }
  // Row j carries unit input e_j: the rows of the result are M's columns.
  after_v_ = v_.Forward(MatrixXc::Identity(k_, k_));
  after_u_ = u_.Forward(after_v_ * attenuator_.asDiagonal());
  transfer_transposed_ = after_u_ * screen_.asDiagonal();
  real_m_ = transfer_transposed_.real().transpose();
  return real_m_;
}

MatrixXc SvdCore::Transfer() const { return transfer_transposed_.transpose(); }

void SvdCore::Backward(const Eigen::MatrixXd& d_loss_d_real_m, std::span<double> d_loss_d_phase) {
  PHC_CHECK(d_loss_d_real_m.rows() == k_ && d_loss_d_real_m.cols() == k_);
  PHC_CHECK(static_cast<int>(d_loss_d_phase.size()) == phase_count());
  const int mesh = k_ * (k_ - 1);
  const Complex i(0.0, 1.0);
  // The loss sees Re(M) only: delta of the transposed transfer is real.
  const MatrixXc delta_out = d_loss_d_real_m.transpose().cast<Complex>();
  for (int m = 0; m < k_; ++m) {
    const Complex slope = -i * screen_(m);  // d/dpsi of -i e^{-i psi}
    d_loss_d_phase[2 * mesh + k_ + m] +=
        (delta_out.col(m).conjugate().cwiseProduct(slope * after_u_.col(m))).sum().real();
  }
  const MatrixXc delta_u = delta_out * screen_.conjugate().asDiagonal();
  u_.ZeroGradients();
  const MatrixXc delta_a = u_.Backward(delta_u);
  for (int p = 0; p < mesh; ++p) d_loss_d_phase[mesh + k_ + p] += u_.gradients()[p];
  for (int m = 0; m < k_; ++m) {
    d_loss_d_phase[mesh + m] +=
        (delta_a.col(m).conjugate().cwiseProduct(attenuator_slope_(m) * after_v_.col(m)))
            .sum()
            .real();
  }
  const MatrixXc delta_v = delta_a * attenuator_.conjugate().asDiagonal();
  v_.ZeroGradients();
  v_.Backward(delta_v);
  for (int p = 0; p < mesh; ++p) d_loss_d_phase[p] += v_.gradients()[p];
}

}  // namespace phc::trainers::onn
