// Numpy-style (multidirectional) broadcasting, shared by elementwise ops, Where, Expand, PRelu.
#pragma once

#include <algorithm>
#include <cstddef>
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

// The iteration space of an elementwise op whose operands broadcast to one output, simplified for
// speed: output axes of size 1 are dropped and adjacent axes are merged wherever every operand is
// broadcast along both or along neither. Same-shape operands become one axis, a one-element
// operand a stride-0 axis, and [N,C,H,W] op [C,1,1] the axes [N, C, H*W] with strides [0, 1, 0].
// Built once at prepare time; iterated with for_each_broadcast_row.
struct BroadcastLoop {
  Shape dims;  // merged output axes, outermost first; {1} for a one-element output, empty if none
  std::vector<std::vector<std::int64_t>> strides;  // [operand][axis] in elements, 0 = broadcast
  std::int64_t numel = 0;                          // output elements

  // Stride of operand k along the innermost axis: 1 (contiguous) or 0 (one value for the row);
  // 0 for an empty output.
  std::int64_t inner_stride(std::size_t k) const {
    return strides[k].empty() ? 0 : strides[k].back();
  }
};

// Each of `inputs` must broadcast to `out` (see broadcast_shapes).
BroadcastLoop make_broadcast_loop(const std::vector<Shape>& inputs, const Shape& out);

// for_each_broadcast_row handles loops of at most this many merged axes. Merging leaves one axis
// per change of broadcast pattern, so only pathological shapes come near it.
inline constexpr std::size_t kBroadcastLoopMaxRank = 16;
// Elementwise loops of at least kElementwiseParallelMin output elements run on OpenMP threads, in
// blocks of kElementwiseBlock elements. Each output element is written once by the same code
// whatever the thread count, so results are bitwise identical for any number of threads.
inline constexpr std::int64_t kElementwiseParallelMin = 32768;
inline constexpr std::int64_t kElementwiseBlock = 16384;

namespace broadcast_detail {

// Output elements [begin, end) of `loop`, as runs along the innermost axis.
template <std::size_t N, typename RowFn>
void rows_in_range(const BroadcastLoop& loop, std::int64_t begin, std::int64_t end, RowFn& row) {
  const std::size_t rank = loop.dims.size();
  const std::int64_t inner = loop.dims[rank - 1];
  std::int64_t idx[kBroadcastLoopMaxRank];
  std::int64_t offs[N];
  std::int64_t col = begin % inner;
  std::int64_t rest = begin / inner;
  for (std::size_t k = 0; k < N; ++k) offs[k] = col * loop.strides[k][rank - 1];
  for (std::size_t ax = rank - 1; ax-- > 0;) {
    idx[ax] = rest % loop.dims[ax];
    rest /= loop.dims[ax];
    for (std::size_t k = 0; k < N; ++k) offs[k] += idx[ax] * loop.strides[k][ax];
  }
  std::int64_t o = begin;
  while (true) {
    const std::int64_t len = std::min(inner - col, end - o);
    row(o, static_cast<const std::int64_t*>(offs), len);
    o += len;
    if (o >= end) return;
    // Back to the start of the row, then one step of the outer axes (an odometer).
    for (std::size_t k = 0; k < N; ++k) offs[k] -= col * loop.strides[k][rank - 1];
    col = 0;
    for (std::size_t ax = rank - 1; ax-- > 0;) {
      ++idx[ax];
      for (std::size_t k = 0; k < N; ++k) offs[k] += loop.strides[k][ax];
      if (idx[ax] < loop.dims[ax]) break;
      for (std::size_t k = 0; k < N; ++k) offs[k] -= loop.strides[k][ax] * loop.dims[ax];
      idx[ax] = 0;
    }
  }
}

}  // namespace broadcast_detail

// Calls row(out_offset, in_offsets, len) for runs of consecutive output elements along the
// innermost axis of `loop` (N operands): output elements out_offset + j, j < len, read operand k
// at in_offsets[k] + j * loop.inner_stride(k). A run can be a part of a row, so a same-shape loop
// (one axis) still splits into blocks. Large loops call row from several threads at once.
// Requires loop.dims.size() <= kBroadcastLoopMaxRank. Allocates nothing.
template <std::size_t N, typename RowFn>
void for_each_broadcast_row(const BroadcastLoop& loop, RowFn&& row) {
  const std::int64_t total = loop.numel;
  if (total <= 0) return;
  if (total < kElementwiseParallelMin) {
    broadcast_detail::rows_in_range<N>(loop, 0, total, row);
    return;
  }
  const std::int64_t blocks = (total + kElementwiseBlock - 1) / kElementwiseBlock;
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    broadcast_detail::rows_in_range<N>(loop, b * kElementwiseBlock,
                                       std::min(total, (b + 1) * kElementwiseBlock), row);
  }
}

}  // namespace dnnfi
