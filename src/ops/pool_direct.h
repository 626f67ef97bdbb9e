// 2-D max and average pooling computed directly on NCHW data with AVX-512 (see simd_taps.h): one
// pass over each input plane, no layout change. oneDNN's pooling on NCHW is 3-6x slower at
// GoogLeNet/Inception sizes and its blocked variant needs two reorders (e.g. 3x3 average over
// 768 channels at 19x19: 0.60 ms NCHW, 0.37 + 0.19 ms blocked + reorders).
#pragma once

#include <cstdint>
#include <memory>

namespace dnnfi {

struct DirectPoolGeom {
  bool max = true;                 // else average
  bool count_include_pad = false;  // average: divide by the taps inside the padded input
  std::int64_t planes;             // batch * channels
  std::int64_t in_h, in_w, out_h, out_w;
  std::int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  std::int64_t pad_top, pad_left, pad_bottom, pad_right;
};

class DirectPool {
 public:
  // Null when the CPU has no AVX-512 or stride_w is not 1 or 2.
  static std::unique_ptr<DirectPool> create(const DirectPoolGeom& g);
  virtual ~DirectPool() = default;
  // Same results as the reference pooling: max keeps the first maximum and the first NaN, a
  // window without input elements gives the lowest float; average sums taps in order and divides
  // by the tap count (0/0 = NaN for an all-padding window without count_include_pad).
  virtual void run(const float* x, float* y) const = 0;
};

}  // namespace dnnfi
