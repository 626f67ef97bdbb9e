// CumSum (opset 11, 14): running sums along one axis, optionally exclusive (each output leaves
// out its own input) and/or reverse (sums run from the end).
//
// The axis input must be known at load time (a constant or initializer); a value that differs at
// run time is an error. Sums accumulate sequentially in the element type, like numpy.cumsum and
// ONNX Runtime; integer sums wrap.
#include <type_traits>

#include "ops/ops.h"

namespace dnnfi {

namespace {

// Integers accumulate unsigned (wrapping, no undefined overflow); floats in their own type.
template <typename T, bool kIntegral>
struct CumSumAcc {
  using type = T;
};
template <typename T>
struct CumSumAcc<T, true> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
void cumsum_run(const T* x, T* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                bool exclusive, bool reverse) {
  using U = typename CumSumAcc<T, std::is_integral_v<T>>::type;
  const std::int64_t total = outer * inner;
  const bool parallel = total > 1 && total * n >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t o = 0; o < total; ++o) {
    const std::int64_t base = (o / inner) * n * inner + o % inner;
    U acc{0};
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t k = reverse ? n - 1 - j : j;
      const U v = static_cast<U>(x[base + k * inner]);
      if (exclusive) {
        y[base + k * inner] = static_cast<T>(acc);
        acc += v;
      } else {
        acc += v;
        y[base + k * inner] = static_cast<T>(acc);
      }
    }
  }
}

}  // namespace

Prepared prepare_cumsum(const PrepareContext& ctx) {
  ctx.allow_attributes({"exclusive", "reverse"});
  ctx.require_inputs(2, 2);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
  ctx.require_dtype(1, {DType::kInt32, DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const Tensor& axis_tensor = ctx.require_constant(1);
  if (axis_tensor.numel() != 1 || axis_tensor.rank() > 1) {
    ctx.fail("axis input must be a scalar, got shape " + shape_to_string(axis_tensor.shape()));
  }
  const std::int64_t axis_value = axis_tensor.get_as_int64(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  if (axis_value < -rank || axis_value >= rank) {
    ctx.fail("axis " + std::to_string(axis_value) + " is out of range for input shape " +
             shape_to_string(x.shape));
  }
  const std::int64_t axis = axis_value < 0 ? axis_value + rank : axis_value;
  const bool exclusive = ctx.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.attr_int("reverse", 0) != 0;
  const std::int64_t outer = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  const std::int64_t n = x.shape[static_cast<std::size_t>(axis)];
  const std::int64_t inner = shape_numel(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  const std::string node_name = ctx.node().name;
  Prepared p;
  p.outputs = {x};
  auto make = [&]<typename T>() -> std::unique_ptr<Kernel> {
    return make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      // The axis was folded at load time; a corrupted axis would sum along another dimension.
      const Tensor* a = in[1];
      if (a == nullptr || a->numel() != 1 ||
          (a->dtype() != DType::kInt32 && a->dtype() != DType::kInt64) ||
          a->get_as_int64(0) != axis_value) {
        return Status::error("node '" + node_name +
                             "': axis input differs from its value at load time");
      }
      cumsum_run<T>(in[0]->data<T>(), out[0]->data<T>(), outer, n, inner, exclusive, reverse);
      return Status::ok();
    });
  };
  switch (x.dtype) {
    case DType::kFloat32:
      p.kernel = make.operator()<float>();
      break;
    case DType::kFloat64:
      p.kernel = make.operator()<double>();
      break;
    case DType::kInt32:
      p.kernel = make.operator()<std::int32_t>();
      break;
    default:
      p.kernel = make.operator()<std::int64_t>();
      break;
  }
  return p;
}

}  // namespace dnnfi
