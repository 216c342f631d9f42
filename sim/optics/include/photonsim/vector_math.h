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

#include <cstdint>
#include <random>
#include <span>

namespace photonsim {

// sin_out[i] = sin(x[i]), cos_out[i] = cos(x[i]).
// REQUIRES: equal lengths; the outputs do not overlap x.
void SinCos(std::span<const double> x, std::span<double> sin_out, std::span<double> cos_out);

// out[i] = log(x[i]), the natural logarithm, with the same kernels and
// family as SinCos (1.0 ULP). REQUIRES: equal lengths.
void Log(std::span<const double> x, std::span<double> out);

// out[i] = asin(x[i]) for x[i] in [-1, 1] (NaN outside, as libm), same
// kernels and family (1.0 ULP); asin(+-0) is +-0 exactly. In-place use
// (out aliasing x) is allowed. REQUIRES: equal lengths.
void Asin(std::span<const double> x, std::span<double> out);

// Fills `out` with independent standard normal samples: Box-Muller over
// pairs of 53-bit uniforms from `rng` (two engine draws per pair), with the
// logarithms and sines computed in vector batches. The stream is fixed by
// the engine's state, so a seeded engine gives the same samples every run.
void FillStandardNormals(std::span<double> out, std::mt19937_64& rng);

// Which kernel SinCos runs ("sleef-avx512f", "sleef-avx2", "sleef-sse2-dispatch",
// "libm").
const char* SinCosKernelName();

}  // namespace photonsim
