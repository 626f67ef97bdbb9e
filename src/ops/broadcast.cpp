#include "ops/broadcast.h"

#include <algorithm>

namespace dnnfi {

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<std::int64_t> strides(out.size(), 0);
  const std::size_t lead = out.size() - in.size();
  std::int64_t s = 1;
  for (std::size_t i = in.size(); i-- > 0;) {
    strides[lead + i] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return strides;
}

BroadcastLoop make_broadcast_loop(const std::vector<Shape>& inputs, const Shape& out) {
  const std::size_t n = inputs.size();
  const std::size_t rank = out.size();
  BroadcastLoop loop;
  loop.numel = shape_numel(out);
  loop.strides.resize(n);
  if (loop.numel == 0) return loop;
  // Per merged axis: its size and which operands are broadcast along it.
  std::vector<std::vector<bool>> broadcast;
  for (std::size_t ax = 0; ax < rank; ++ax) {
    if (out[ax] == 1) continue;
    std::vector<bool> pattern(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t lead = rank - inputs[k].size();
      pattern[k] = ax < lead || inputs[k][ax - lead] == 1;
    }
    if (!broadcast.empty() && broadcast.back() == pattern) {
      loop.dims.back() *= out[ax];
    } else {
      loop.dims.push_back(out[ax]);
      broadcast.push_back(std::move(pattern));
    }
  }
  if (loop.dims.empty()) {
    // One output element: every operand has one element too; read it as a contiguous run of 1.
    loop.dims = {1};
    for (auto& s : loop.strides) s = {1};
    return loop;
  }
  for (std::size_t k = 0; k < n; ++k) {
    loop.strides[k].assign(loop.dims.size(), 0);
    std::int64_t s = 1;
    for (std::size_t ax = loop.dims.size(); ax-- > 0;) {
      if (broadcast[ax][k]) continue;
      loop.strides[k][ax] = s;
      s *= loop.dims[ax];
    }
  }
  return loop;
}

}  // namespace dnnfi
