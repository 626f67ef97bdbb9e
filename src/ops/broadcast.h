// Numpy-style (multidirectional) broadcasting, shared by elementwise ops, Where, Expand, PRelu.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace dnnfi {

// The broadcast shape of a and b, or nullopt when they are incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// For an input of shape `in` broadcast to `out` (rank(in) <= rank(out)): the element stride of the
// input along each output axis (0 along broadcast axes). Iterating the output in row-major order
// with these strides visits the matching input elements.
std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Calls f(out_index, in_offsets...) for every output element, in row-major order. The innermost
// axis is handled in a tight loop. `strides[k]` comes from broadcast_strides for operand k.
template <std::size_t N, typename F>
void for_each_broadcast(const Shape& out, const std::vector<std::int64_t> (&strides)[N], F&& f) {
  const std::size_t rank = out.size();
  const std::int64_t total = shape_numel(out);
  if (total == 0) return;
  if (rank == 0) {
    std::int64_t offs[N] = {};
    f(std::int64_t{0}, offs);
    return;
  }
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t offs[N] = {};
  const std::int64_t inner = out[rank - 1];
  std::int64_t inner_stride[N];
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][rank - 1];
  for (std::int64_t o = 0; o < total; o += inner) {
    std::int64_t cur[N];
    for (std::size_t k = 0; k < N; ++k) cur[k] = offs[k];
    for (std::int64_t j = 0; j < inner; ++j) {
      f(o + j, cur);
      for (std::size_t k = 0; k < N; ++k) cur[k] += inner_stride[k];
    }
    // advance the outer index (axes rank-2 .. 0)
    for (std::size_t ax = rank - 1; ax-- > 0;) {
      ++idx[ax];
      for (std::size_t k = 0; k < N; ++k) offs[k] += strides[k][ax];
      if (idx[ax] < out[ax]) break;
      for (std::size_t k = 0; k < N; ++k) offs[k] -= strides[k][ax] * out[ax];
      idx[ax] = 0;
    }
  }
}

}  // namespace dnnfi
