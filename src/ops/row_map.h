// Elementwise kernels on rows of NCHW tensors, for Kernel::run_rows: rows [lo, hi) of axis 2 of
// every (n, c) plane, each input read from its band or its rest tensor (ops/kernel.h RowInput).
// The rows split into segments in which every input comes from one tensor; in each plane a
// segment is one contiguous run of (rows x W) elements, handed to the body as pointers into the
// inputs and the output.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

#include "ops/kernel.h"

namespace dnnfi::rows {

// True when every input has a rest tensor of `out`'s rank-4 shape and dtype (and a band, if any,
// of the same shape): the inputs an elementwise row kernel can read without broadcasting.
inline bool same_shape(std::span<const RowInput* const> in, const Tensor& out) {
  if (out.shape().size() != 4) return false;
  for (const RowInput* r : in) {
    if (r == nullptr || r->rest == nullptr || r->rest->shape() != out.shape() ||
        r->rest->dtype() != out.dtype()) {
      return false;
    }
    if (r->band != nullptr &&
        (r->band->shape() != out.shape() || r->band->dtype() != out.dtype())) {
      return false;
    }
  }
  return true;
}

// Calls body(plane, src, dst, count) for every plane (N*C of them) and every segment of rows
// [lo, hi) in which each input comes from one tensor: src[k] points at input k's first element
// of the segment in that plane, dst at the output's, count elements each. Inputs must satisfy
// same_shape; lo and hi are clipped to the height.
template <typename T, std::size_t N, typename Body>
void for_segments(const std::array<const RowInput*, N>& in, Tensor& out, std::int64_t lo,
                  std::int64_t hi, const Body& body) {
  const Shape& s = out.shape();
  const std::int64_t planes = s[0] * s[1], h = s[2], w = s[3];
  lo = std::max<std::int64_t>(lo, 0);
  hi = std::min(hi, h);
  std::array<std::int64_t, 2 * N + 2> cuts{};
  std::size_t n = 0;
  cuts[n++] = lo;
  cuts[n++] = hi;
  for (const RowInput* r : in) {
    if (r->band == nullptr) continue;
    for (std::int64_t c : {r->lo, r->hi}) {
      if (c > lo && c < hi) cuts[n++] = c;
    }
  }
  std::sort(cuts.begin(), cuts.begin() + static_cast<std::ptrdiff_t>(n));
  T* y = out.data<T>();
  for (std::size_t k = 0; k + 1 < n; ++k) {
    const std::int64_t a = cuts[k], b = cuts[k + 1];
    if (b <= a) continue;
    std::array<const T*, N> base{};
    for (std::size_t i = 0; i < N; ++i) base[i] = in[i]->at(a).template data<T>();
    const std::int64_t count = (b - a) * w;
    for (std::int64_t p = 0; p < planes; ++p) {
      const std::int64_t offset = p * h * w + a * w;
      std::array<const T*, N> src{};
      for (std::size_t i = 0; i < N; ++i) src[i] = base[i] + offset;
      body(p, src, y + offset, count);
    }
  }
}

}  // namespace dnnfi::rows
