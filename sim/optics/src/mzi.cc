#include "photonsim/mzi.h"

#include <cmath>
#include <numbers>

namespace photonsim {

Matrix2c CouplerMatrix(double splitting_error_rad) {
  const double k = std::numbers::pi / 4 + splitting_error_rad;
  const Complex c(std::cos(k), 0.0);
  const Complex is(0.0, std::sin(k));
  Matrix2c m;
  m << c, is, is, c;
  return m;
}

Matrix2c TopPhaseMatrix(double phase_rad) {
  Matrix2c m = Matrix2c::Identity();
  m(0, 0) = std::polar(1.0, phase_rad);
  return m;
}

Matrix2c MziMatrix(double theta_rad, double phi_rad, double splitting_error_in_rad,
                   double splitting_error_out_rad) {
  return CouplerMatrix(splitting_error_out_rad) * TopPhaseMatrix(theta_rad) *
         CouplerMatrix(splitting_error_in_rad) * TopPhaseMatrix(phi_rad);
}

MziCouplerTerms CouplerTerms(double splitting_error_in_rad, double splitting_error_out_rad,
                             double amplitude) {
  const double k_in = std::numbers::pi / 4 + splitting_error_in_rad;
  const double k_out = std::numbers::pi / 4 + splitting_error_out_rad;
  return {
      amplitude * std::cos(k_in) * std::cos(k_out), amplitude * std::sin(k_in) * std::sin(k_out),
      amplitude * std::sin(k_in) * std::cos(k_out), amplitude * std::cos(k_in) * std::sin(k_out)};
}

}  // namespace photonsim
