// Variadic elementwise ops: Sum, Mean, Min, Max, with numpy broadcasting from opset 8 and inputs
// of one shape before.
// The output is folded left to right, y = in0 op in1, then y = y op in_k in place — the order of
// ONNX Runtime, so float sums round the same way. Mean multiplies the sum by 1/n (in T), fused
// into the last step. Min and Max propagate NaN (numpy, PyTorch and ONNX Runtime >= 1.19 do).
// One input is copied.
#include <cstring>

#include "ops/binary_common.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using binary::BinaryPlan;

struct MinOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a < b) ? a : b;  // b when b is NaN
    } else {
      return a < b ? a : b;
    }
  }
};

struct MaxOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a > b) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};

// y = Op(y, b) * scale: Mean's last step.
template <typename Op, typename T>
struct ScaledOp {
  T scale;
  T operator()(T a, T b) const { return Op{}(a, b) * scale; }
};

template <typename T, typename Op>
Prepared make_variadic_kernel(const PrepareContext& ctx, const Shape& y_shape, bool mean) {
  const std::size_t n = ctx.num_inputs();
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < n; ++i) shapes.push_back(ctx.input(i).shape);
  // steps[0]: y = in0 op in1; steps[k]: y = y op in(k+1).
  std::vector<BinaryPlan> steps;
  for (std::size_t i = 1; i < n; ++i) {
    steps.push_back(
        binary::make_binary_plan(ctx, i == 1 ? shapes[0] : y_shape, shapes[i], y_shape));
  }
  const T scale = mean ? T(1) / static_cast<T>(n) : T(1);
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), y_shape}};
  p.kernel = make_kernel([shapes = std::move(shapes), steps = std::move(steps), mean, scale,
                          label = binary::node_label(ctx)](std::span<const Tensor* const> in,
                                                           std::span<Tensor* const> out) -> Status {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, i, dtype_of<T>(), shapes[i]));
    }
    T* y = out[0]->data<T>();
    if (steps.empty()) {
      // One input: it has the output's shape.
      if (in[0]->nbytes() > 0) std::memcpy(y, in[0]->raw(), in[0]->nbytes());
      return Status::ok();
    }
    for (std::size_t s = 0; s < steps.size(); ++s) {
      const T* b = in[s + 1]->data<T>();
      const bool scaled = mean && s + 1 == steps.size();
      if (s == 0) {
        const T* a = in[0]->data<T>();
        if (scaled) {
          binary::run_binary(steps[s], a, b, y, ScaledOp<Op, T>{scale});
        } else {
          binary::run_binary(steps[s], a, b, y, Op{});
        }
      } else if (scaled) {
        binary::run_accumulate(steps[s], y, b, ScaledOp<Op, T>{scale});
      } else {
        binary::run_accumulate(steps[s], y, b, Op{});
      }
    }
    return Status::ok();
  });
  return p;
}

// Versions 1 and 6 (before opset 8) take inputs of one shape only, and version 1 the legacy
// in-place hint `consumed_inputs`, which does not change the result.
template <typename Op, typename Types>
Prepared prepare_variadic(const PrepareContext& ctx, Types types, bool mean) {
  if (ctx.opset() < 6) {
    ctx.allow_attributes({"consumed_inputs"});
  } else {
    ctx.allow_attributes({});
  }
  if (ctx.num_inputs() < 1) ctx.fail("expects at least 1 input, has 0");
  binary::require_known_shape(ctx, 0);
  Shape y = ctx.input(0).shape;
  for (std::size_t i = 1; i < ctx.num_inputs(); ++i) {
    binary::require_same_dtype(ctx, 0, i);
    binary::require_known_shape(ctx, i);
    if (ctx.opset() < 8 && ctx.input(i).shape != y) {
      ctx.fail("input " + std::to_string(i) + " has shape " + shape_to_string(ctx.input(i).shape) +
               ", input 0 " + shape_to_string(y) + " (no broadcasting before opset 8)");
    }
    y = binary::broadcast_or_fail(ctx, y, ctx.input(i).shape);
  }
  return binary::dispatch(ctx, 0, types, [&](auto tag) {
    return make_variadic_kernel<decltype(tag), Op>(ctx, y, mean);
  });
}

}  // namespace

// Sum and Mean are float-only in the spec; Sum also takes integers (wrapping), a superset.
Prepared prepare_sum(const PrepareContext& ctx) {
  return prepare_variadic<binary::AddOp>(ctx, binary::NumericTypes{}, false);
}
Prepared prepare_mean(const PrepareContext& ctx) {
  return prepare_variadic<binary::AddOp>(ctx, binary::FloatTypes{}, true);
}
Prepared prepare_min(const PrepareContext& ctx) {
  return prepare_variadic<MinOp>(ctx, binary::NumericTypes{}, false);
}
Prepared prepare_max(const PrepareContext& ctx) {
  return prepare_variadic<MaxOp>(ctx, binary::NumericTypes{}, false);
}

}  // namespace dnnfi
