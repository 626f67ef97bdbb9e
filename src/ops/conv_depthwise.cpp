#include "ops/conv_depthwise.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/simd_taps.h"

namespace dnnfi {

namespace {

using simd::kLanes;
using simd::load_taps;

// The rows of one input plane: rows [band_lo, band_hi) from `band` (when not null), the others
// from `rest`.
struct PlaneRows {
  const float* rest = nullptr;
  const float* band = nullptr;
  std::int64_t band_lo = 0, band_hi = 0;
  const float* row(std::int64_t ih, std::int64_t in_w) const {
    return (band != nullptr && ih >= band_lo && ih < band_hi ? band : rest) + ih * in_w;
  }
};

// Output rows [oh_lo, oh_hi) of one plane. masks holds, per 16-wide output chunk, KW tap masks
// (columns whose input lies inside the row) and the store mask. Kernel row kh accumulates its KW
// taps in order (row 0 starting from the bias), then the rows are added in order.
template <int KH, int KW, int S>
DNNFI_AVX512 void plane(const DepthwiseGeom& g, const PlaneRows& x, const float* w, float bias,
                        float* y, const std::uint16_t* masks, std::int64_t oh_lo,
                        std::int64_t oh_hi) {
  const std::int64_t in_h = g.in_h, in_w = g.in_w, out_w = g.out_w;
  const std::int64_t stride_h = g.stride_h, dil_h = g.dilation_h, dil_w = g.dilation_w;
  const std::int64_t chunks = (out_w + kLanes - 1) / kLanes;
  __m512 wv[KH][KW];
  for (int kh = 0; kh < KH; ++kh) {
    for (int kw = 0; kw < KW; ++kw) wv[kh][kw] = _mm512_set1_ps(w[kh * KW + kw]);
  }
  const __m512 bv = _mm512_set1_ps(bias);
  for (std::int64_t oh = oh_lo; oh < oh_hi; ++oh) {
    const std::int64_t ih0 = oh * stride_h - g.pad_top;
    const float* rows[KH];
    bool valid[KH];
    for (int kh = 0; kh < KH; ++kh) {
      const std::int64_t ih = ih0 + kh * dil_h;
      valid[kh] = ih >= 0 && ih < in_h;
      rows[kh] = x.row(valid[kh] ? ih : 0, in_w) - g.pad_left;
    }
    float* yr = y + oh * out_w;
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::uint16_t* m = masks + c * (KW + 1);
      const std::int64_t col = c * kLanes * S;
      __m512 sum = bv;
      for (int kh = 0; kh < KH; ++kh) {
        if (!valid[kh]) continue;
        const float* p = rows[kh] + col;
        __m512 acc = kh == 0 ? bv : _mm512_setzero_ps();
        for (int kw = 0; kw < KW; ++kw) {
          acc = _mm512_mask3_fmadd_ps(wv[kh][kw], load_taps<S>(p + kw * dil_w, m[kw]), acc, m[kw]);
        }
        sum = kh == 0 ? acc : _mm512_add_ps(sum, acc);
      }
      _mm512_mask_storeu_ps(yr + c * kLanes, m[KW], sum);
    }
  }
}

using PlaneFn = void (*)(const DepthwiseGeom&, const PlaneRows&, const float*, float, float*,
                         const std::uint16_t*, std::int64_t, std::int64_t);

class DepthwiseConvImpl final : public DepthwiseConv {
 public:
  DepthwiseConvImpl(const DepthwiseGeom& g, PlaneFn fn) : g_(g), fn_(fn) {
    simd::tap_masks(g.out_w, g.in_w, g.kernel_w, g.stride_w, g.dilation_w, g.pad_left, masks_);
  }

  void run(const float* x, const float* w, const float* b, float* y, const ConvPostOps* post,
           const float* sum) const override {
    if (post != nullptr && !post->any()) post = nullptr;
    const std::int64_t planes = g_.batch * g_.channels * g_.multiplier;
    const std::int64_t in_plane = g_.in_h * g_.in_w, out_plane = g_.out_h * g_.out_w;
    const std::int64_t ksize = g_.kernel_h * g_.kernel_w;
#pragma omp parallel for schedule(static) if (planes * out_plane * ksize > 20000)
    for (std::int64_t p = 0; p < planes; ++p) {
      const std::int64_t m = p % (g_.channels * g_.multiplier);
      const std::int64_t n = p / (g_.channels * g_.multiplier);
      const PlaneRows xp{x + (n * g_.channels + m / g_.multiplier) * in_plane};
      fn_(g_, xp, w + m * ksize, b != nullptr ? b[m] : 0.0f, y + p * out_plane, masks_.data(), 0,
          g_.out_h);
      if (post != nullptr) {
        post->apply(y + p * out_plane, sum != nullptr ? sum + p * out_plane : nullptr, out_plane);
      }
    }
  }

  void run_rows(const float* x, const float* band, std::int64_t band_lo, std::int64_t band_hi,
                const float* w, const float* b, float* y, std::int64_t lo,
                std::int64_t hi) const override {
    lo = std::max<std::int64_t>(lo, 0);
    hi = std::min(hi, g_.out_h);
    if (hi <= lo) return;
    const std::int64_t planes = g_.batch * g_.channels * g_.multiplier;
    const std::int64_t in_plane = g_.in_h * g_.in_w, out_plane = g_.out_h * g_.out_w;
    const std::int64_t ksize = g_.kernel_h * g_.kernel_w;
#pragma omp parallel for schedule(static) if (planes * (hi - lo) * g_.out_w * ksize > 20000)
    for (std::int64_t p = 0; p < planes; ++p) {
      const std::int64_t m = p % (g_.channels * g_.multiplier);
      const std::int64_t n = p / (g_.channels * g_.multiplier);
      const std::int64_t offset = (n * g_.channels + m / g_.multiplier) * in_plane;
      const PlaneRows xp{x + offset, band != nullptr ? band + offset : nullptr, band_lo, band_hi};
      fn_(g_, xp, w + m * ksize, b != nullptr ? b[m] : 0.0f, y + p * out_plane, masks_.data(), lo,
          hi);
    }
  }

 private:
  DepthwiseGeom g_;
  PlaneFn fn_;
  std::vector<std::uint16_t> masks_;
};

}  // namespace

std::unique_ptr<DepthwiseConv> DepthwiseConv::create(const DepthwiseGeom& g) {
  if (!simd::available()) return nullptr;
  PlaneFn fn = nullptr;
  const std::int64_t k = g.kernel_h == g.kernel_w ? g.kernel_h : 0;
  if (k == 3 && g.stride_w == 1) fn = plane<3, 3, 1>;
  if (k == 3 && g.stride_w == 2) fn = plane<3, 3, 2>;
  if (k == 5 && g.stride_w == 1) fn = plane<5, 5, 1>;
  if (k == 5 && g.stride_w == 2) fn = plane<5, 5, 2>;
  if (fn == nullptr || g.out_h < 1 || g.out_w < 1) return nullptr;
  return std::make_unique<DepthwiseConvImpl>(g, fn);
}

}  // namespace dnnfi
