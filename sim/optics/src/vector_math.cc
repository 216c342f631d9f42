#include "photonsim/vector_math.h"

#include "phc/base/check.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <sleef.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>

namespace photonsim {

void SinCos(std::span<const double> x, std::span<double> sin_out, std::span<double> cos_out) {
  PHC_CHECK(x.size() == sin_out.size() && x.size() == cos_out.size());
  const std::size_t n = x.size();
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 8 <= n; i += 8) {
    const Sleef___m512d_2 r = Sleef_sincosd8_u10avx512f(_mm512_loadu_pd(x.data() + i));
    _mm512_storeu_pd(sin_out.data() + i, r.x);
    _mm512_storeu_pd(cos_out.data() + i, r.y);
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  for (; i + 4 <= n; i += 4) {
    const Sleef___m256d_2 r = Sleef_sincosd4_u10avx2(_mm256_loadu_pd(x.data() + i));
    _mm256_storeu_pd(sin_out.data() + i, r.x);
    _mm256_storeu_pd(cos_out.data() + i, r.y);
  }
#endif
#if defined(__x86_64__)
  for (; i + 2 <= n; i += 2) {
    const Sleef___m128d_2 r = Sleef_sincosd2_u10(_mm_loadu_pd(x.data() + i));
    _mm_storeu_pd(sin_out.data() + i, r.x);
    _mm_storeu_pd(cos_out.data() + i, r.y);
  }
#endif
  for (; i < n; ++i) {
    sin_out[i] = std::sin(x[i]);
    cos_out[i] = std::cos(x[i]);
  }
}

void Log(std::span<const double> x, std::span<double> out) {
  PHC_CHECK(x.size() == out.size());
  const std::size_t n = x.size();
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 8 <= n; i += 8) {
    _mm512_storeu_pd(out.data() + i, Sleef_logd8_u10avx512f(_mm512_loadu_pd(x.data() + i)));
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_pd(out.data() + i, Sleef_logd4_u10avx2(_mm256_loadu_pd(x.data() + i)));
  }
#endif
#if defined(__x86_64__)
  for (; i + 2 <= n; i += 2) {
    _mm_storeu_pd(out.data() + i, Sleef_logd2_u10(_mm_loadu_pd(x.data() + i)));
  }
#endif
  for (; i < n; ++i) out[i] = std::log(x[i]);
}

void Asin(std::span<const double> x, std::span<double> out) {
  PHC_CHECK(x.size() == out.size());
  const std::size_t n = x.size();
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 8 <= n; i += 8) {
    _mm512_storeu_pd(out.data() + i, Sleef_asind8_u10avx512f(_mm512_loadu_pd(x.data() + i)));
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_pd(out.data() + i, Sleef_asind4_u10avx2(_mm256_loadu_pd(x.data() + i)));
  }
#endif
#if defined(__x86_64__)
  for (; i + 2 <= n; i += 2) {
    _mm_storeu_pd(out.data() + i, Sleef_asind2_u10(_mm_loadu_pd(x.data() + i)));
  }
#endif
  for (; i < n; ++i) out[i] = std::asin(x[i]);
}

void FillStandardNormals(std::span<double> out, std::mt19937_64& rng) {
  constexpr std::size_t kPairs = 256;
  constexpr double kUnit = 0x1p-53;  // a 53-bit integer times this is in [0, 1)
  std::array<double, kPairs> radius_log, angle, sine, cosine;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t pairs = std::min(kPairs, (out.size() - done + 1) / 2);
    for (std::size_t p = 0; p < pairs; ++p) {
      radius_log[p] = static_cast<double>((rng() >> 11) + 1) * kUnit;  // (0, 1]: log is finite
      angle[p] = static_cast<double>(rng() >> 11) * kUnit * (2.0 * std::numbers::pi);
    }
    const std::span<double> logs(radius_log.data(), pairs);
    Log(logs, logs);
    SinCos(std::span<const double>(angle.data(), pairs), std::span<double>(sine.data(), pairs),
           std::span<double>(cosine.data(), pairs));
    for (std::size_t p = 0; p < pairs; ++p) {
      const double radius = std::sqrt(-2.0 * radius_log[p]);
      out[done++] = radius * cosine[p];
      if (done < out.size()) out[done++] = radius * sine[p];
    }
  }
}

const char* SinCosKernelName() {
#if defined(__AVX512F__)
  return "sleef-avx512f";
#elif defined(__AVX2__) && defined(__FMA__)
  return "sleef-avx2";
#elif defined(__x86_64__)
  return "sleef-sse2-dispatch";
#else
  return "libm";
#endif
}

}  // namespace photonsim
