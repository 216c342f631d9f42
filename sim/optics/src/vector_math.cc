#include "photonsim/vector_math.h"

#include "phc/base/check.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <sleef.h>
#endif

#include <cmath>
#include <cstddef>

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
