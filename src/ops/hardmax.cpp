// Hardmax: 1 at the first maximum of each slice, 0 elsewhere.
//
// Opset >= 13 takes slices along `axis` (default -1). Before opset 13 the input is seen as a 2-D
// matrix [prod(dims before axis), prod(dims from axis)] (axis default 1) and each row is a slice.
// NaN counts as larger than every number (numpy's argmax, which the ONNX reference uses): the first
// NaN of a slice gets the 1.
#include <cmath>
#include <type_traits>

#include "ops/ops.h"

namespace dnnfi {

namespace {

template <typename T>
void hardmax_run(const T* x, T* y, std::int64_t outer, std::int64_t n, std::int64_t inner) {
  const std::int64_t total = outer * inner;
  const bool parallel = total > 1 && total * n >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t o = 0; o < total; ++o) {
    const std::int64_t base = (o / inner) * n * inner + o % inner;
    const T* xs = x + base;
    T* ys = y + base;
    std::int64_t best_k = 0;
    T best = xs[0];
    for (std::int64_t k = 1; k < n && best == best; ++k) {
      const T v = xs[k * inner];
      if (v > best || v != v) {
        best = v;
        best_k = k;
      }
    }
    for (std::int64_t k = 0; k < n; ++k) ys[k * inner] = T{0};
    ys[best_k * inner] = T{1};
  }
}

}  // namespace

Prepared prepare_hardmax(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const bool coerce_2d = ctx.opset() < 13;
  std::int64_t axis = ctx.attr_int("axis", coerce_2d ? 1 : -1);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for input shape " +
             shape_to_string(x.shape));
  }
  if (axis < 0) axis += rank;
  const std::int64_t outer = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  std::int64_t n = 0;
  std::int64_t inner = 0;
  if (coerce_2d) {
    n = shape_numel(Shape(x.shape.begin() + axis, x.shape.end()));
    inner = 1;
  } else {
    n = x.shape[static_cast<std::size_t>(axis)];
    inner = shape_numel(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  }
  Prepared p;
  p.outputs = {x};
  auto make = [&]<typename T>() {
    return make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      if (n > 0) hardmax_run<T>(in[0]->data<T>(), out[0]->data<T>(), outer, n, inner);
      return Status::ok();
    });
  };
  p.kernel = x.dtype == DType::kFloat32 ? make.operator()<float>() : make.operator()<double>();
  return p;
}

}  // namespace dnnfi
