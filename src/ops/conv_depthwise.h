// Depthwise 2-D convolution (group == input channels, any channel multiplier) computed directly on
// NCHW data with AVX-512: each output channel plane reads only its own input plane, so there is no
// layout conversion. oneDNN's depthwise kernels want nChw16c/nhwc, and the two reorders around
// them cost 2-4x the convolution itself at MobileNetV2's sizes (e.g. 144 channels at 56x56: 0.19 ms
// + 0.53 ms of reorders vs ~0.1 ms here).
#pragma once

#include <cstdint>
#include <memory>

#include "ops/conv_post_ops.h"

namespace dnnfi {

struct DepthwiseGeom {
  std::int64_t batch, channels, multiplier;  // output channels = channels * multiplier
  std::int64_t in_h, in_w, out_h, out_w;
  std::int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
};

class DepthwiseConv {
 public:
  // Null when the geometry has no specialised kernel (kernel sizes other than 3x3 and 5x5,
  // strides other than 1 and 2) or the build has no AVX-512.
  static std::unique_ptr<DepthwiseConv> create(const DepthwiseGeom& g);
  virtual ~DepthwiseConv() = default;
  // y[n, m] = b[m] + sum over the window of x[n, m / multiplier] * w[m]; bias may be null.
  // Each output element is summed in a fixed order (per kernel row, then the rows added), so
  // results repeat exactly at any thread count.
  // post (may be null) is applied to each output plane right after it is computed, while it is
  // still in cache; sum is its summand when post->sum.
  virtual void run(const float* x, const float* w, const float* b, float* y,
                   const ConvPostOps* post = nullptr, const float* sum = nullptr) const = 0;
  // Output rows [lo, hi) of every plane of y (a full-size output; other rows untouched), each
  // element summed exactly as run() sums it (no post-ops), input rows [band_lo, band_hi) read from
  // `band` (full-size, when not null) and the others from x.
  virtual void run_rows(const float* x, const float* band, std::int64_t band_lo,
                        std::int64_t band_hi, const float* w, const float* b, float* y,
                        std::int64_t lo, std::int64_t hi) const = 0;
};

}  // namespace dnnfi
