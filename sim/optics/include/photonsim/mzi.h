// Transfer matrices of the two-port building blocks of an MZI mesh.
// Convention: fields are column vectors (top, bottom); a block maps input
// fields to output fields.
#pragma once

#include "photonsim/eigen.h"

namespace photonsim {

// Directional coupler. splitting_error_rad = 0 is an ideal 50:50 coupler:
// [[cos k, i sin k], [i sin k, cos k]] with k = pi/4 + splitting_error_rad.
Matrix2c CouplerMatrix(double splitting_error_rad);

// Phase shifter on the top arm: diag(exp(i phase), 1).
Matrix2c TopPhaseMatrix(double phase_rad);

// Mach-Zehnder interferometer: external phase phi on the top input, coupler,
// internal phase theta on the top arm, coupler. With ideal couplers
//   T = i exp(i theta/2) [[exp(i phi) sin(theta/2),  cos(theta/2)],
//                         [exp(i phi) cos(theta/2), -sin(theta/2)]],
// so theta = 0 is the cross state and theta = pi the bar state.
Matrix2c MziMatrix(double theta_rad, double phi_rad, double splitting_error_in_rad = 0.0,
                   double splitting_error_out_rad = 0.0);

// MziMatrix multiplied out, with c1, s1 = cos, sin of pi/4 + the input
// coupler's error, c2, s2 likewise for the output coupler, and amplitude a:
//   a T = [[e^{i phi} (cc e^{i theta} - ss),   i (sc e^{i theta} + cs)],
//          [i e^{i phi} (cs e^{i theta} + sc), cc - ss e^{i theta}]],
// cc = a c1 c2, ss = a s1 s2, sc = a s1 c2, cs = a c1 s2. Only the phasors
// depend on the phases: rebuilding an MZI needs no product of matrices.
struct MziCouplerTerms {
  double cc, ss, sc, cs;
};
MziCouplerTerms CouplerTerms(double splitting_error_in_rad, double splitting_error_out_rad,
                             double amplitude);

}  // namespace photonsim
