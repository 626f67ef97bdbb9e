// AVX-512 helpers shared by the direct NCHW kernels (depthwise convolution, pooling): a row of
// outputs is computed 16 at a time, each kernel tap reading the input columns it needs under a
// lane mask, so padding is skipped exactly (never read, never multiplied) and no layout change is
// needed. Functions are compiled for AVX-512 whatever the build flags; callers check the CPU
// (simd::available()) before using them.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#define DNNFI_AVX512 __attribute__((target("avx512f,avx512dq,bmi2")))

namespace dnnfi::simd {

inline bool available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("bmi2");
}

constexpr std::int64_t kLanes = 16;

// Bit j set for the lanes j in [a, b) of a 16-lane vector.
inline std::uint16_t lane_range(std::int64_t a, std::int64_t b) {
  a = std::max<std::int64_t>(a, 0);
  b = std::min<std::int64_t>(b, kLanes);
  if (b <= a) return 0;
  const std::uint32_t below_b = b >= kLanes ? 0xFFFFu : (1u << b) - 1;
  return static_cast<std::uint16_t>(below_b & ~((1u << a) - 1));
}

// Lane j of the result is p[j * S] where mask bit j is set, 0 elsewhere; reads nothing else.
template <int S>
DNNFI_AVX512 inline __m512 load_taps(const float* p, __mmask16 m) {
  if constexpr (S == 1) {
    return _mm512_maskz_loadu_ps(m, p);
  } else {
    static_assert(S == 2);
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const auto m0 = static_cast<__mmask16>(_pdep_u32(m & 0xFFu, 0x5555u));
    const auto m1 = static_cast<__mmask16>(_pdep_u32((m >> 8) & 0xFFu, 0x5555u));
    return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, p), even,
                                  _mm512_maskz_loadu_ps(m1, p + kLanes));
  }
}

// For each 16-wide chunk of an output row of width out_w and each tap column kw: the lanes whose
// input column ow * stride + kw * dilation - pad lies in [0, in_w), then the chunk's store mask.
// Layout: [chunk][kernel_w + 1].
inline void tap_masks(std::int64_t out_w, std::int64_t in_w, std::int64_t kernel_w,
                      std::int64_t stride, std::int64_t dilation, std::int64_t pad,
                      std::vector<std::uint16_t>& masks) {
  const std::int64_t chunks = (out_w + kLanes - 1) / kLanes;
  masks.clear();
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t ow0 = c * kLanes;
    const std::uint16_t store = lane_range(0, out_w - ow0);
    for (std::int64_t kw = 0; kw < kernel_w; ++kw) {
      const std::int64_t offset = kw * dilation - pad;
      const std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
      const std::int64_t top = in_w - 1 - offset;
      const std::int64_t hi = top < 0 ? 0 : top / stride + 1;
      masks.push_back(lane_range(lo - ow0, hi - ow0) & store);
    }
    masks.push_back(store);
  }
}

}  // namespace dnnfi::simd
