// Softmax / LogSoftmax of contiguous float rows with AVX2 + FMA, compiled for AVX2 whatever the
// build flags (the library targets baseline x86-64); softmax.cpp checks the CPU at run time
// (avx2_available()) before calling it. Short rows (ViT's 65-wide attention rows) are where the
// baseline build loses most: its loops run 4 floats and 2 doubles at a time and leave scalar tails,
// while here every row is 8 floats at a time with one masked tail.
//
// Same semantics as softmax_row in softmax.cpp: the row maximum is subtracted first, exp is
// fast_math::exp's algorithm (same reduction and polynomial, evaluated with FMA: within 1 ulp of
// the exact value, like it), the sum is accumulated in double in a fixed order that depends only on
// n (so results do not depend on the thread count), and the normalisation multiplies by the
// reciprocal of the sum in double. NaN in a row makes the whole row NaN, as in softmax_row.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>

#define DNNFI_AVX2_FMA __attribute__((target("avx2,fma")))

namespace dnnfi::softmax_avx2 {

inline bool available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// fast_math::exp on 8 lanes (see fast_math.h for the constants and why the clamp keeps NaN).
DNNFI_AVX2_FMA inline __m256 exp8(__m256 x) {
  // max/min return their second operand when one is NaN: x stays NaN.
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  const __m256 round = _mm256_set1_ps(12582912.0f);
  const __m256 t = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), round);
  const __m256 nf = _mm256_sub_ps(t, round);
  __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.989098087e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.393364103e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.333310934e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.166646501e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.666666668e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.000000013e-1f));
  const __m256 q = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  // n in the low bits of t; 2^n applied as two factors so both stay normal (gradual underflow).
  const __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(round));
  const __m256i n1 = _mm256_srai_epi32(n, 1);
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(1.0f), q), s1), s2);
}

// Lanes [0, k) set, for the masked tail of a row (k in [1, 7]).
DNNFI_AVX2_FMA inline __m256i tail_mask(std::int64_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

DNNFI_AVX2_FMA inline void add_to_double(__m256 e, __m256d& lo, __m256d& hi) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

// float(double(e) * inv) on 8 lanes.
DNNFI_AVX2_FMA inline __m256 scale_in_double(__m256d inv, __m256 e) {
  const __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e)), inv);
  const __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)), inv);
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

// kLog selects LogSoftmax. x and y may be the same row.
template <bool kLog>
DNNFI_AVX2_FMA void row(const float* x, float* y, std::int64_t n) {
  const std::int64_t full = n / 8 * 8;
  const std::int64_t rest = n - full;
  const __m256i mask = tail_mask(rest);
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  // Maximum: order does not matter (a NaN makes every output NaN whatever m becomes).
  __m256 vm = neg_inf;
  for (std::int64_t i = 0; i < full; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  if (rest > 0) {
    const __m256 v = _mm256_maskload_ps(x + full, mask);
    vm = _mm256_max_ps(vm, _mm256_blendv_ps(neg_inf, v, _mm256_castsi256_ps(mask)));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  const __m256 m = _mm256_broadcastss_ps(m4);
  // exp(x - m), summed in double: two 4-lane accumulators, combined in a fixed order.
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (std::int64_t i = 0; i < full; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    const __m256 e = exp8(d);
    _mm256_storeu_ps(y + i, kLog ? d : e);
    add_to_double(e, lo, hi);
  }
  if (rest > 0) {
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + full, mask), m);
    const __m256 e = _mm256_and_ps(exp8(d), _mm256_castsi256_ps(mask));  // masked lanes add 0
    _mm256_maskstore_ps(y + full, mask, kLog ? d : e);
    add_to_double(e, lo, hi);
  }
  const __m256d s4 = _mm256_add_pd(lo, hi);
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  const double sum = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
  if constexpr (kLog) {
    const __m256 lse = _mm256_set1_ps(static_cast<float>(__builtin_log(sum)));
    for (std::int64_t i = 0; i < full; i += 8) {
      _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(y + i), lse));
    }
    if (rest > 0) {
      _mm256_maskstore_ps(y + full, mask, _mm256_sub_ps(_mm256_maskload_ps(y + full, mask), lse));
    }
  } else {
    const __m256d inv = _mm256_set1_pd(1.0 / sum);
    for (std::int64_t i = 0; i < full; i += 8)
      _mm256_storeu_ps(y + i, scale_in_double(inv, _mm256_loadu_ps(y + i)));
    if (rest > 0) {
      _mm256_maskstore_ps(y + full, mask, scale_in_double(inv, _mm256_maskload_ps(y + full, mask)));
    }
  }
}

}  // namespace dnnfi::softmax_avx2

#endif  // __x86_64__
