#include "ops/pool_direct.h"

#include <omp.h>

#include <limits>
#include <vector>

#include "ops/simd_taps.h"

namespace dnnfi {

namespace {

using simd::kLanes;
using simd::load_taps;

// Per-axis tap counts that divide an average: taps inside the input, or inside the padded input.
std::vector<float> axis_counts(std::int64_t out, std::int64_t in, std::int64_t kernel,
                               std::int64_t stride, std::int64_t dilation, std::int64_t pad_begin,
                               std::int64_t pad_end, bool include_pad) {
  std::vector<float> counts;
  for (std::int64_t o = 0; o < out; ++o) {
    std::int64_t n = 0;
    for (std::int64_t k = 0; k < kernel; ++k) {
      const std::int64_t i = o * stride - pad_begin + k * dilation;
      n += include_pad ? (i >= -pad_begin && i < in + pad_end) : (i >= 0 && i < in);
    }
    counts.push_back(static_cast<float>(n));
  }
  return counts;
}

struct Tables {
  std::vector<std::uint16_t> masks;      // simd::tap_masks layout
  std::vector<float> count_h, count_w;   // average only; count_w padded to whole chunks
  std::vector<std::uint8_t> row_empty;   // max: output rows whose windows have no input row
  std::vector<std::uint16_t> col_empty;  // max: per chunk, lanes whose windows have no input column
};

// Max pooling: VMAXPS drops NaNs, so NaN taps are also tracked as the largest |bit pattern| seen
// (a NaN's exceeds +inf's) and turn the result into NaN at the end, as the reference propagates
// them (the NaN payload and the sign of a zero maximum may differ from the reference's).
// Accumulation starts from -inf; windows without any input element are set to the lowest float
// at the end, as in the reference.
template <bool kMax, int S, int KW>
DNNFI_AVX512 void plane(const DirectPoolGeom& g, const Tables& t, const float* x, float* y) {
  const std::int64_t in_h = g.in_h, in_w = g.in_w, out_w = g.out_w;
  const std::int64_t kw_n = KW > 0 ? KW : g.kernel_w, dil_w = g.dilation_w;
  const std::int64_t chunks = (out_w + kLanes - 1) / kLanes;
  const __m512 start = _mm512_set1_ps(kMax ? -std::numeric_limits<float>::infinity() : 0.0f);
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  const __m512 nan = _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN());
  const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), inf_bits = _mm512_set1_epi32(0x7F800000);
  const float* rows[16];
  const std::int64_t max_rows = std::min<std::int64_t>(g.kernel_h, 16);
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const std::int64_t ih0 = oh * g.stride_h - g.pad_top;
    float* yr = y + oh * out_w;
    for (std::int64_t kh0 = 0; kh0 < g.kernel_h; kh0 += max_rows) {
      // Rows kh0 .. kh0 + max_rows of the window (all of them for kernels up to 16 rows).
      int n_rows = 0;
      for (std::int64_t kh = kh0; kh < std::min(g.kernel_h, kh0 + max_rows); ++kh) {
        const std::int64_t ih = ih0 + kh * g.dilation_h;
        if (ih >= 0 && ih < in_h) rows[n_rows++] = x + ih * in_w - g.pad_left;
      }
      for (std::int64_t c = 0; c < chunks; ++c) {
        const std::uint16_t* m = t.masks.data() + c * (kw_n + 1);
        const std::int64_t col = c * kLanes * S;
        float* out = yr + c * kLanes;
        __m512 acc = kh0 == 0 ? start : _mm512_maskz_loadu_ps(m[kw_n], out);
        __m512i nan_bits = _mm512_setzero_si512();  // max of |bits| of every tap: > inf iff NaN
        // Each window row is reduced on its own, then the rows are combined in order: shorter
        // dependency chains than one running accumulator.
        for (int r = 0; r < n_rows; ++r) {
          const float* p = rows[r] + col;
          __m512 row = start;
          for (std::int64_t kw = 0; kw < kw_n; ++kw) {
            const __mmask16 mk = m[kw];
            const __m512 v = load_taps<S>(p + kw * dil_w, mk);  // 0 in lanes outside mk
            if constexpr (kMax) {
              row = _mm512_mask_max_ps(row, mk, row, v);
              nan_bits = _mm512_max_epu32(nan_bits, _mm512_and_si512(_mm512_castps_si512(v), abs));
            } else {
              row = _mm512_mask_add_ps(row, mk, row, v);
            }
          }
          if constexpr (kMax) {
            acc = _mm512_max_ps(acc, row);
          } else {
            acc = _mm512_add_ps(acc, row);
          }
        }
        const bool last = kh0 + max_rows >= g.kernel_h;
        if (last) {
          if constexpr (kMax) {
            const __mmask16 empty = t.row_empty[oh] ? m[kw_n] : t.col_empty[c];
            acc = _mm512_mask_mov_ps(acc, empty, lowest);
            acc = _mm512_mask_mov_ps(acc, _mm512_cmpgt_epu32_mask(nan_bits, inf_bits), nan);
          } else {
            const __m512 count = _mm512_mul_ps(_mm512_set1_ps(t.count_h[oh]),
                                               _mm512_loadu_ps(t.count_w.data() + c * kLanes));
            acc = _mm512_div_ps(acc, count);
          }
        }
        _mm512_mask_storeu_ps(out, m[kw_n], acc);
      }
    }
  }
}

using PlaneFn = void (*)(const DirectPoolGeom&, const Tables&, const float*, float*);

class DirectPoolImpl final : public DirectPool {
 public:
  DirectPoolImpl(const DirectPoolGeom& g, PlaneFn fn) : g_(g), fn_(fn) {
    simd::tap_masks(g.out_w, g.in_w, g.kernel_w, g.stride_w, g.dilation_w, g.pad_left, t_.masks);
    const std::vector<float> valid_h = axis_counts(g.out_h, g.in_h, g.kernel_h, g.stride_h,
                                                   g.dilation_h, g.pad_top, g.pad_bottom, false);
    const std::vector<float> valid_w = axis_counts(g.out_w, g.in_w, g.kernel_w, g.stride_w,
                                                   g.dilation_w, g.pad_left, g.pad_right, false);
    if (g.max) {
      for (float n : valid_h) t_.row_empty.push_back(n == 0.0f);
      t_.col_empty.assign((g.out_w + kLanes - 1) / kLanes, 0);
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        if (valid_w[ow] == 0.0f) t_.col_empty[ow / kLanes] |= 1u << (ow % kLanes);
      }
    } else {
      t_.count_h = g.count_include_pad ? axis_counts(g.out_h, g.in_h, g.kernel_h, g.stride_h,
                                                     g.dilation_h, g.pad_top, g.pad_bottom, true)
                                       : valid_h;
      t_.count_w = g.count_include_pad ? axis_counts(g.out_w, g.in_w, g.kernel_w, g.stride_w,
                                                     g.dilation_w, g.pad_left, g.pad_right, true)
                                       : valid_w;
      t_.count_w.resize((g.out_w + kLanes - 1) / kLanes * kLanes, 1.0f);
    }
  }

  void run(const float* x, float* y) const override {
    const std::int64_t in_plane = g_.in_h * g_.in_w, out_plane = g_.out_h * g_.out_w;
#pragma omp parallel for schedule(static) if (g_.planes * out_plane * g_.kernel_h * g_.kernel_w > \
                                              20000)
    for (std::int64_t p = 0; p < g_.planes; ++p) fn_(g_, t_, x + p * in_plane, y + p * out_plane);
  }

 private:
  DirectPoolGeom g_;
  PlaneFn fn_;
  Tables t_;
};

}  // namespace

std::unique_ptr<DirectPool> DirectPool::create(const DirectPoolGeom& g) {
  if (!simd::available() || g.out_h < 1 || g.out_w < 1) return nullptr;
  // Kernel widths 2 and 3 get unrolled tap loops; others run the generic width.
  static const PlaneFn kFns[2][2][3] = {
      {{plane<false, 1, 0>, plane<false, 1, 2>, plane<false, 1, 3>},
       {plane<false, 2, 0>, plane<false, 2, 2>, plane<false, 2, 3>}},
      {{plane<true, 1, 0>, plane<true, 1, 2>, plane<true, 1, 3>},
       {plane<true, 2, 0>, plane<true, 2, 2>, plane<true, 2, 3>}}};
  if (g.stride_w != 1 && g.stride_w != 2) return nullptr;
  // The tap-mask table holds kernel_w + 1 masks per 16 outputs of a row; a window so wide that
  // it would take more than 8 MiB (only hostile files have one) runs on the generic kernels.
  if ((g.out_w + kLanes - 1) / kLanes * (g.kernel_w + 1) > (std::int64_t{1} << 22)) return nullptr;
  const int width = g.kernel_w == 2 ? 1 : g.kernel_w == 3 ? 2 : 0;
  return std::make_unique<DirectPoolImpl>(g, kFns[g.max ? 1 : 0][g.stride_w - 1][width]);
}

}  // namespace dnnfi
