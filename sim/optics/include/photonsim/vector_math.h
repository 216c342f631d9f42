// Batched elementary functions for rebuilding many optical elements at once.
//
// SinCos evaluates sin and cos of an array with SLEEF's vectorised kernels
// (1.0 ULP, the u10 family), on the widest vector unit the build targets:
// AVX-512 or AVX2 in a native build, SSE2 with SLEEF's run-time dispatch in a
// portable one (libm off x86-64). The error against libm is stated and tested in
// tests/sim/vector_math_test.cc: at most 1e-15 absolute for |x| <= 1e3 rad.
//
// Thread safety: pure functions.
#pragma once

#include <span>

namespace photonsim {

// sin_out[i] = sin(x[i]), cos_out[i] = cos(x[i]).
// REQUIRES: equal lengths; the outputs do not overlap x.
void SinCos(std::span<const double> x, std::span<double> sin_out, std::span<double> cos_out);

// Which kernel SinCos runs ("sleef-avx512f", "sleef-avx2", "sleef-sse2-dispatch",
// "libm").
const char* SinCosKernelName();

}  // namespace photonsim
