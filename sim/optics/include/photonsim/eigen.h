// Eigen types used across photonsim, in one place.
#pragma once

#include <Eigen/Core>
#include <complex>

namespace photonsim {

using Complex = std::complex<double>;
using Matrix2c = Eigen::Matrix2cd;
using MatrixXc = Eigen::MatrixXcd;
using VectorXc = Eigen::VectorXcd;
using VectorXd = Eigen::VectorXd;

}  // namespace photonsim
