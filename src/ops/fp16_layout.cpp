#include "ops/fp16_layout.h"

#include <algorithm>

#include "core/dtype.h"
#include "ops/unary_common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define DNNFI_FP16_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,avx,f16c")))
#define DNNFI_FP16_F16C __attribute__((target("avx,f16c")))
#endif

namespace dnnfi::fp16 {

namespace {

constexpr std::int64_t kTile = 16;  // channels and spatial positions per transposed tile

// The scalar definition of a rounding followed by RoundPost, for one element; s is the element's
// summand (null: none).
inline std::uint16_t round_post_one(float y, const std::uint16_t* s, const RoundPost& post) {
  std::uint16_t r = float_to_half(y);
  if (s != nullptr) {
    const float a = unary::half_bits_to_float(r), c = unary::half_bits_to_float(*s);
    r = float_to_half(post.sum_first ? c + a : a + c);
  }
  return post.relu ? unary::relu_half_bits(r) : r;
}

// Spatial positions [s0, s1) of one image.
void widen_nchw_to_nhwc_plain(const std::uint16_t* x, float* y, std::int64_t channels,
                              std::int64_t spatial, std::int64_t s0, std::int64_t s1) {
  for (std::int64_t s = s0; s < s1; ++s) {
    for (std::int64_t ch = 0; ch < channels; ++ch) {
      y[s * channels + ch] = unary::half_bits_to_float(x[ch * spatial + s]);
    }
  }
}

void round_nhwc_to_nchw_plain(const float* y, std::uint16_t* h, std::int64_t channels,
                              std::int64_t spatial, std::int64_t s0, std::int64_t s1,
                              const std::uint16_t* summand, const RoundPost& post) {
  for (std::int64_t s = s0; s < s1; ++s) {
    for (std::int64_t ch = 0; ch < channels; ++ch) {
      const std::int64_t i = ch * spatial + s;
      h[i] = round_post_one(y[s * channels + ch], summand != nullptr ? summand + i : nullptr, post);
    }
  }
}

#if defined(__x86_64__)

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c");
  return yes;
}

bool has_f16c() {
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return yes;
}

// r[i][j] <-> r[j][i] for a 16x16 float tile held in 16 registers.
DNNFI_FP16_AVX512 inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 2; ++i) {
    for (int k = 0; k < 4; ++k) {
      t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + k + 4], 0x88);
      t[8 * i + k + 4] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + k + 4], 0xdd);
    }
  }
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
  }
}

// relu_half_bits on 16 lanes.
DNNFI_FP16_AVX512 inline __m256i relu_half_bits16(__m256i h) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i magnitude = _mm256_and_si256(h, _mm256_set1_epi16(0x7fff));
  const __m256i nan = _mm256_cmpgt_epi16(magnitude, _mm256_set1_epi16(0x7c00));
  const __m256i negative =
      _mm256_andnot_si256(_mm256_cmpeq_epi16(magnitude, zero), _mm256_cmpgt_epi16(zero, h));
  return _mm256_blendv_epi8(_mm256_andnot_si256(negative, h),
                            _mm256_or_si256(h, _mm256_set1_epi16(0x0200)), nan);
}

DNNFI_FP16_F16C inline __m128i relu_half_bits8(__m128i h) {
  const __m128i zero = _mm_setzero_si128();
  const __m128i magnitude = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
  const __m128i nan = _mm_cmpgt_epi16(magnitude, _mm_set1_epi16(0x7c00));
  const __m128i negative =
      _mm_andnot_si128(_mm_cmpeq_epi16(magnitude, zero), _mm_cmpgt_epi16(zero, h));
  return _mm_blendv_epi8(_mm_andnot_si128(negative, h), _mm_or_si128(h, _mm_set1_epi16(0x0200)),
                         nan);
}

// Spatial positions [s0, s0 + 16) (fewer at the end) of one image, every channel, in 16x16 tiles:
// the NHWC side is one contiguous stretch and each channel's NCHW row piece is continued by the
// next s0, so both stay in cache. A tile holding a NaN is widened by the scalar definition: the
// instruction would quiet a signalling NaN.
DNNFI_FP16_AVX512 void widen_nchw_to_nhwc_avx512(const std::uint16_t* x, float* y,
                                                 std::int64_t channels, std::int64_t spatial,
                                                 std::int64_t s0) {
  const std::int64_t sm = std::min(kTile, spatial - s0);
  const __mmask16 smask = static_cast<__mmask16>((1u << sm) - 1);
  const __m256i magnitude = _mm256_set1_epi16(0x7fff), inf = _mm256_set1_epi16(0x7c00);
  for (std::int64_t c0 = 0; c0 < channels; c0 += kTile) {
    const std::int64_t cm = std::min(kTile, channels - c0);
    const __mmask16 cmask = static_cast<__mmask16>((1u << cm) - 1);
    __m256i rows[kTile];
    __m256i nan = _mm256_setzero_si256();
    for (std::int64_t i = 0; i < kTile; ++i) {
      rows[i] = i < cm ? _mm256_maskz_loadu_epi16(smask, x + (c0 + i) * spatial + s0)
                       : _mm256_setzero_si256();
      nan = _mm256_or_si256(nan, _mm256_cmpgt_epi16(_mm256_and_si256(rows[i], magnitude), inf));
    }
    if (!_mm256_testz_si256(nan, nan)) {
      for (std::int64_t j = 0; j < sm; ++j) {
        for (std::int64_t i = 0; i < cm; ++i) {
          y[(s0 + j) * channels + c0 + i] =
              unary::half_bits_to_float(x[(c0 + i) * spatial + s0 + j]);
        }
      }
      continue;
    }
    __m512 r[kTile];
    for (std::int64_t i = 0; i < kTile; ++i) r[i] = _mm512_cvtph_ps(rows[i]);
    transpose16x16(r);
    for (std::int64_t j = 0; j < sm; ++j) {
      _mm512_mask_storeu_ps(y + (s0 + j) * channels + c0, cmask, r[j]);
    }
  }
}

DNNFI_FP16_AVX512 void round_nhwc_to_nchw_avx512(const float* y, std::uint16_t* h,
                                                 std::int64_t channels, std::int64_t spatial,
                                                 std::int64_t s0, const std::uint16_t* summand,
                                                 const RoundPost& post) {
  const std::int64_t sm = std::min(kTile, spatial - s0);
  const __mmask16 smask = static_cast<__mmask16>((1u << sm) - 1);
  const bool sum_first = post.sum_first, relu = post.relu;
  for (std::int64_t c0 = 0; c0 < channels; c0 += kTile) {
    const std::int64_t cm = std::min(kTile, channels - c0);
    const __mmask16 cmask = static_cast<__mmask16>((1u << cm) - 1);
    __m512 r[kTile];
    for (std::int64_t j = 0; j < kTile; ++j) {
      r[j] =
          j < sm ? _mm512_maskz_loadu_ps(cmask, y + (s0 + j) * channels + c0) : _mm512_setzero_ps();
    }
    transpose16x16(r);
    for (std::int64_t i = 0; i < cm; ++i) {
      const std::int64_t at = (c0 + i) * spatial + s0;
      __m256i v = _mm512_cvtps_ph(r[i], _MM_FROUND_TO_NEAREST_INT);
      if (summand != nullptr) {
        const __m512 a = _mm512_cvtph_ps(v);
        const __m512 c = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(smask, summand + at));
        v = _mm512_cvtps_ph(sum_first ? _mm512_add_ps(c, a) : _mm512_add_ps(a, c),
                            _MM_FROUND_TO_NEAREST_INT);
      }
      if (relu) v = relu_half_bits16(v);
      _mm256_mask_storeu_epi16(h + at, smask, v);
    }
  }
}

DNNFI_FP16_F16C void round_with_post_f16c(const float* y, std::uint16_t* h, std::int64_t n,
                                          const RoundPost& post) {
  const std::uint16_t* s = post.summand;
  const bool sum_first = post.sum_first, relu = post.relu;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(y + i), _MM_FROUND_TO_NEAREST_INT);
    if (s != nullptr) {
      const __m256 a = _mm256_cvtph_ps(v);
      const __m256 c = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
      v = _mm256_cvtps_ph(sum_first ? _mm256_add_ps(c, a) : _mm256_add_ps(a, c),
                          _MM_FROUND_TO_NEAREST_INT);
    }
    if (relu) v = relu_half_bits8(v);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), v);
  }
  for (; i < n; ++i) h[i] = round_post_one(y[i], s != nullptr ? s + i : nullptr, post);
}

#endif

}  // namespace

// A summand widened by the instruction has its signalling NaNs quieted, which changes no sum:
// x86 returns the first NaN operand quieted, and the result is rounded (quieted) anyway.

bool transposes_fast() {
#if defined(__x86_64__)
  return has_avx512();
#else
  return false;
#endif
}

void widen_nchw_to_nhwc(const std::uint16_t* x, float* y, std::int64_t batch, std::int64_t channels,
                        std::int64_t spatial) {
  const std::int64_t blocks = (spatial + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (batch * channels * spatial >= \
                                              unary::kParallelMinElements)
  for (std::int64_t k = 0; k < batch * blocks; ++k) {
    const std::int64_t b = k / blocks, s0 = k % blocks * kTile;
    const std::uint16_t* xb = x + b * channels * spatial;
    float* yb = y + b * channels * spatial;
#if defined(__x86_64__)
    if (has_avx512()) {
      widen_nchw_to_nhwc_avx512(xb, yb, channels, spatial, s0);
      continue;
    }
#endif
    widen_nchw_to_nhwc_plain(xb, yb, channels, spatial, s0, std::min(spatial, s0 + kTile));
  }
}

void round_nhwc_to_nchw(const float* y, std::uint16_t* h, std::int64_t batch, std::int64_t channels,
                        std::int64_t spatial, const RoundPost& post) {
  const std::int64_t blocks = (spatial + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (batch * channels * spatial >= \
                                              unary::kParallelMinElements)
  for (std::int64_t k = 0; k < batch * blocks; ++k) {
    const std::int64_t b = k / blocks, s0 = k % blocks * kTile;
    const std::int64_t offset = b * channels * spatial;
    const std::uint16_t* summand = post.summand != nullptr ? post.summand + offset : nullptr;
#if defined(__x86_64__)
    if (has_avx512()) {
      round_nhwc_to_nchw_avx512(y + offset, h + offset, channels, spatial, s0, summand, post);
      continue;
    }
#endif
    round_nhwc_to_nchw_plain(y + offset, h + offset, channels, spatial, s0,
                             std::min(spatial, s0 + kTile), summand, post);
  }
}

void round_with_post(const float* y, std::uint16_t* h, std::int64_t n, const RoundPost& post) {
#if defined(__x86_64__)
  if (has_f16c()) {
    round_with_post_f16c(y, h, n, post);
    return;
  }
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    h[i] = round_post_one(y[i], post.summand != nullptr ? post.summand + i : nullptr, post);
  }
}

}  // namespace dnnfi::fp16
