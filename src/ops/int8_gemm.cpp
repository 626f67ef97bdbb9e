// Register-blocked kernels of int8_gemm.h: 4 output channels x up to 4 vectors of pixels held in
// accumulators, one pass over the K2 column pairs (each loaded once per block of pixels, each
// weight pair broadcast once per channel). The pixel block is the outer loop so a block of
// columns (K2 x 64 pixels x 4 bytes) stays in cache while every channel block reads it.
#include "ops/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>

#include "ops/quant_common.h"

namespace dnnfi::int8_gemm {

namespace {

#define DNNFI_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define DNNFI_AVX2 __attribute__((target("avx2")))

constexpr int kBlockM = 4;
constexpr int kBlockV = 4;

template <int MB, int NV>
DNNFI_VNNI void micro_vnni(const std::int32_t* w, std::int64_t k2n, const std::int16_t* cols,
                           std::int64_t col_stride, std::int32_t* acc, std::int64_t acc_stride) {
  __m512i c[MB][NV];
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) c[i][v] = _mm512_setzero_si512();
  }
  for (std::int64_t k = 0; k < k2n; ++k) {
    const std::int16_t* col = cols + k * col_stride;
    __m512i x[NV];
    for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_si512(col + v * 32);
    for (int i = 0; i < MB; ++i) {
      const __m512i b = _mm512_set1_epi32(w[i * k2n + k]);
      for (int v = 0; v < NV; ++v) c[i][v] = _mm512_dpwssd_epi32(c[i][v], x[v], b);
    }
  }
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc + i * acc_stride + v * 16, c[i][v]);
  }
}

// As micro_vnni on uint8 x int8 quads (vpdpbusd: four u8 x s8 products summed into int32, no
// saturation, so exact).
template <int MB, int NV>
DNNFI_VNNI void micro_vnni_u8s8(const std::int32_t* w, std::int64_t k2n, const std::int16_t* cols,
                                std::int64_t col_stride, std::int32_t* acc,
                                std::int64_t acc_stride) {
  __m512i c[MB][NV];
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) c[i][v] = _mm512_setzero_si512();
  }
  for (std::int64_t k = 0; k < k2n; ++k) {
    const std::int16_t* col = cols + k * col_stride;
    __m512i x[NV];
    for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_si512(col + v * 32);
    for (int i = 0; i < MB; ++i) {
      const __m512i b = _mm512_set1_epi32(w[i * k2n + k]);
      for (int v = 0; v < NV; ++v) c[i][v] = _mm512_dpbusd_epi32(c[i][v], x[v], b);
    }
  }
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc + i * acc_stride + v * 16, c[i][v]);
  }
}

template <int MB, int NV>
DNNFI_AVX2 void micro_avx2(const std::int32_t* w, std::int64_t k2n, const std::int16_t* cols,
                           std::int64_t col_stride, std::int32_t* acc, std::int64_t acc_stride) {
  __m256i c[MB][NV];
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) c[i][v] = _mm256_setzero_si256();
  }
  for (std::int64_t k = 0; k < k2n; ++k) {
    const std::int16_t* col = cols + k * col_stride;
    __m256i x[NV];
    for (int v = 0; v < NV; ++v) {
      x[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + v * 16));
    }
    for (int i = 0; i < MB; ++i) {
      const __m256i b = _mm256_set1_epi32(w[i * k2n + k]);
      for (int v = 0; v < NV; ++v) c[i][v] = _mm256_add_epi32(c[i][v], _mm256_madd_epi16(x[v], b));
    }
  }
  for (int i = 0; i < MB; ++i) {
    for (int v = 0; v < NV; ++v) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * acc_stride + v * 8), c[i][v]);
    }
  }
}

using Micro = void (*)(const std::int32_t*, std::int64_t, const std::int16_t*, std::int64_t,
                       std::int32_t*, std::int64_t);

template <template <int, int> class F>
Micro pick(int mb, int nv) {
  static constexpr Micro table[kBlockM][kBlockV] = {
      {F<1, 1>::fn, F<1, 2>::fn, F<1, 3>::fn, F<1, 4>::fn},
      {F<2, 1>::fn, F<2, 2>::fn, F<2, 3>::fn, F<2, 4>::fn},
      {F<3, 1>::fn, F<3, 2>::fn, F<3, 3>::fn, F<3, 4>::fn},
      {F<4, 1>::fn, F<4, 2>::fn, F<4, 3>::fn, F<4, 4>::fn}};
  return table[mb - 1][nv - 1];
}

template <int MB, int NV>
struct VnniFn {
  static constexpr Micro fn = &micro_vnni<MB, NV>;
};
template <int MB, int NV>
struct VnniU8S8Fn {
  static constexpr Micro fn = &micro_vnni_u8s8<MB, NV>;
};
template <int MB, int NV>
struct Avx2Fn {
  static constexpr Micro fn = &micro_avx2<MB, NV>;
};

// 16 outputs at a time under a lane mask. Same steps as quant::round_saturate: the int32 sum
// wraps (vpaddd), converts to float rounding to nearest even like a scalar cvtsi2ss, one fp32
// multiply, NaN -> 0, clamp to [lo - zp, hi - zp], then vcvtps2dq rounds half to even (the
// default MXCSR mode, which the scalar magic-number trick also relies on) and the values are
// exact integers below 2^22, where both roundings agree.
DNNFI_VNNI void requantize_avx512(const std::int32_t* acc, std::int64_t n, std::int32_t bias,
                                  float multiplier, std::int32_t zero_point, std::int32_t lo,
                                  std::int32_t hi, std::uint8_t* y) {
  const __m512i vb = _mm512_set1_epi32(bias), vz = _mm512_set1_epi32(zero_point);
  const __m512 vm = _mm512_set1_ps(multiplier);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(lo - zero_point));
  const __m512 fhi = _mm512_set1_ps(static_cast<float>(hi - zero_point));
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, acc + i), vb);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), vm);
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_ps());
    v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
    const __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(v), vz);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, k, r);
  }
}

DNNFI_VNNI void requantize_channels_avx512(const std::int32_t* acc, std::int64_t pixels,
                                           std::int64_t n, const std::int32_t* bias,
                                           const float* multiplier, std::int32_t zero_point,
                                           std::int32_t lo, std::int32_t hi, std::uint8_t* y) {
  const __m512i vz = _mm512_set1_epi32(zero_point);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(lo - zero_point));
  const __m512 fhi = _mm512_set1_ps(static_cast<float>(hi - zero_point));
  for (std::int64_t px = 0; px < pixels; ++px, acc += n, y += n) {
    for (std::int64_t i = 0; i < n; i += 16) {
      const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
      const __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, acc + i),
                                         _mm512_maskz_loadu_epi32(k, bias + i));
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_maskz_loadu_ps(k, multiplier + i));
      v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_ps());
      v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
      const __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(v), vz);
      _mm512_mask_cvtepi32_storeu_epi8(y + i, k, r);
    }
  }
}

DNNFI_VNNI void widen_row_avx512(const std::uint8_t* src, std::int64_t n, std::int64_t stride,
                                 bool is_signed, std::int32_t zero_point, std::int16_t* dst) {
  const __m256i vz = _mm256_set1_epi16(static_cast<std::int16_t>(zero_point));
  for (std::int64_t i = 0; i < n; i += 16) {
    const std::int64_t left = std::min<std::int64_t>(16, n - i);
    const __mmask16 k = static_cast<__mmask16>((1u << left) - 1);
    __m256i v;
    if (stride == 1) {
      const __m128i b = _mm_maskz_loadu_epi8(k, src + i);
      v = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
    } else {  // stride 2: the even bytes of 2 * left - 1 bytes, as the low bytes of 16-bit words
      const __mmask32 kb = static_cast<__mmask32>((std::uint64_t{1} << (2 * left - 1)) - 1);
      const __m256i b = _mm256_maskz_loadu_epi8(kb, src + 2 * i);
      v = is_signed ? _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8)
                    : _mm256_and_si256(b, _mm256_set1_epi16(0x00FF));
    }
    _mm256_mask_storeu_epi16(dst + i, k, _mm256_sub_epi16(v, vz));
  }
}

DNNFI_VNNI void quantize_avx512(const float* x, std::int64_t n, float scale,
                                std::int32_t zero_point, std::int32_t lo, std::int32_t hi,
                                std::uint8_t* y) {
  const __m512i vz = _mm512_set1_epi32(zero_point);
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(lo - zero_point));
  const __m512 fhi = _mm512_set1_ps(static_cast<float>(hi - zero_point));
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    // Masked-off lanes divide 1 by the scale and are not stored.
    __m512 v = _mm512_div_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), k, x + i), vs);
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_ps());
    v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, k, _mm512_add_epi32(_mm512_cvtps_epi32(v), vz));
  }
}

DNNFI_VNNI void copy_row_u8_avx512(const std::uint8_t* src, std::int64_t n, std::int64_t stride,
                                   std::uint8_t* dst) {
  for (std::int64_t i = 0; i < n; i += 32) {
    const std::int64_t left = std::min<std::int64_t>(32, n - i);
    const auto k = static_cast<__mmask32>((std::uint64_t{1} << left) - 1);
    if (stride == 1) {
      _mm256_mask_storeu_epi8(dst + i, k, _mm256_maskz_loadu_epi8(k, src + i));
    } else {  // the even bytes of 2 * left - 1 bytes: low bytes of 16-bit words, narrowed
      const auto kb = static_cast<__mmask64>((std::uint64_t{1} << (2 * left - 1)) - 1);
      const __m512i b = _mm512_maskz_loadu_epi8(kb, src + 2 * i);
      _mm256_mask_storeu_epi8(dst + i, k, _mm512_cvtepi16_epi8(b));
    }
  }
}

}  // namespace

void copy_row_u8(Isa isa, const std::uint8_t* src, std::int64_t n, std::int64_t stride,
                 std::uint8_t* dst) {
  if (isa == Isa::kAvx512Vnni && (stride == 1 || stride == 2)) {
    copy_row_u8_avx512(src, n, stride, dst);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
}

void quantize(Isa isa, const float* x, std::int64_t n, float scale, std::int32_t zero_point,
              std::int32_t lo, std::int32_t hi, std::uint8_t* y) {
  if (isa == Isa::kAvx512Vnni) {
    quantize_avx512(x, n, scale, zero_point, lo, hi, y);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::uint8_t>(quant::round_saturate(x[i] / scale, zero_point, lo, hi));
  }
}

void widen_row(Isa isa, const void* src, std::int64_t n, std::int64_t stride, bool is_signed,
               std::int32_t zero_point, std::int16_t* dst) {
  if (isa == Isa::kAvx512Vnni && (stride == 1 || stride == 2)) {
    widen_row_avx512(static_cast<const std::uint8_t*>(src), n, stride, is_signed, zero_point, dst);
    return;
  }
  if (is_signed) {
    const auto* x = static_cast<const std::int8_t*>(src);
    for (std::int64_t i = 0; i < n; ++i) {
      dst[i] = static_cast<std::int16_t>(std::int32_t{x[i * stride]} - zero_point);
    }
  } else {
    const auto* x = static_cast<const std::uint8_t*>(src);
    for (std::int64_t i = 0; i < n; ++i) {
      dst[i] = static_cast<std::int16_t>(std::int32_t{x[i * stride]} - zero_point);
    }
  }
}

void pack_pairs(const std::int16_t* a, const std::int16_t* b, std::int64_t n, std::int32_t* out) {
  if (b == nullptr) {
    for (std::int64_t p = 0; p < n; ++p) out[p] = static_cast<std::uint16_t>(a[p]);
    return;
  }
  for (std::int64_t p = 0; p < n; ++p) {
    out[p] = static_cast<std::int32_t>(
        static_cast<std::uint32_t>(static_cast<std::uint16_t>(a[p])) |
        (static_cast<std::uint32_t>(static_cast<std::uint16_t>(b[p])) << 16));
  }
}

void requantize(Isa isa, const std::int32_t* acc, std::int64_t n, std::int32_t bias,
                float multiplier, std::int32_t zero_point, std::int32_t lo, std::int32_t hi,
                std::uint8_t* y) {
  if (isa == Isa::kAvx512Vnni) {
    requantize_avx512(acc, n, bias, multiplier, zero_point, lo, hi, y);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t a = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[i]) +
                                                     static_cast<std::uint32_t>(bias));
    const float v = static_cast<float>(a) * multiplier;
    y[i] = static_cast<std::uint8_t>(quant::round_saturate(v, zero_point, lo, hi));
  }
}

void requantize_channels(Isa isa, const std::int32_t* acc, std::int64_t pixels,
                         std::int64_t channels, const std::int32_t* bias, const float* multiplier,
                         std::int32_t zero_point, std::int32_t lo, std::int32_t hi,
                         std::uint8_t* y) {
  if (isa == Isa::kAvx512Vnni) {
    requantize_channels_avx512(acc, pixels, channels, bias, multiplier, zero_point, lo, hi, y);
    return;
  }
  for (std::int64_t px = 0; px < pixels; ++px, acc += channels, y += channels) {
    for (std::int64_t m = 0; m < channels; ++m) {
      const std::int32_t a = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[m]) +
                                                       static_cast<std::uint32_t>(bias[m]));
      const float v = static_cast<float>(a) * multiplier[m];
      y[m] = static_cast<std::uint8_t>(quant::round_saturate(v, zero_point, lo, hi));
    }
  }
}

namespace {

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void map_bytes_vbmi(
    const std::uint8_t* table, const std::uint8_t* x, std::int64_t n, std::uint8_t* y) {
  // vpermi2b looks up 128 entries (index bits 0-6 across two registers); bit 7 picks the half.
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  for (std::int64_t i = 0; i < n; i += 64) {
    const __mmask64 k = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(k, x + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
    _mm512_mask_storeu_epi8(y + i, k, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) std::int32_t dot_u8s8_vnni(
    const std::uint8_t* a, const std::int8_t* b, std::int64_t n) {
  __m512i acc = _mm512_setzero_si512();
  for (std::int64_t i = 0; i < n; i += 64) {
    const __mmask64 k = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(k, a + i),
                              _mm512_maskz_loadu_epi8(k, b + i));
  }
  return _mm512_reduce_add_epi32(acc);
}

}  // namespace

void map_bytes(const std::uint8_t* table, const std::uint8_t* x, std::int64_t n, std::uint8_t* y) {
  static const bool vbmi = __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vbmi");
  if (vbmi) {
    map_bytes_vbmi(table, x, n, y);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

std::int32_t dot_u8s8(Isa isa, const std::uint8_t* a, const std::int8_t* b, std::int64_t n) {
  if (isa == Isa::kAvx512Vnni) return dot_u8s8_vnni(a, b, n);
  std::int32_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += std::int32_t{a[i]} * std::int32_t{b[i]};
  return sum;
}

Isa detect() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
    return Isa::kAvx512Vnni;
  }
  if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
  return Isa::kNone;
}

void gemm(Isa isa, const std::int32_t* weights, std::int64_t m, std::int64_t k2,
          const std::int16_t* cols, std::int64_t pixels_padded, std::int32_t* acc, bool u8s8) {
  const bool vnni = isa == Isa::kAvx512Vnni;
  const std::int64_t lanes = vnni ? 16 : 8;  // pixels per vector
  const std::int64_t col_stride = pixels_padded * 2;
  for (std::int64_t p0 = 0; p0 < pixels_padded; p0 += lanes * kBlockV) {
    const int nv = static_cast<int>(std::min<std::int64_t>(kBlockV, (pixels_padded - p0) / lanes));
    for (std::int64_t m0 = 0; m0 < m; m0 += kBlockM) {
      const int mb = static_cast<int>(std::min<std::int64_t>(kBlockM, m - m0));
      const Micro f =
          u8s8 ? pick<VnniU8S8Fn>(mb, nv) : (vnni ? pick<VnniFn>(mb, nv) : pick<Avx2Fn>(mb, nv));
      f(weights + m0 * k2, k2, cols + p0 * 2, col_stride, acc + m0 * pixels_padded + p0,
        pixels_padded);
    }
  }
}

}  // namespace dnnfi::int8_gemm
