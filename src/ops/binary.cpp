// Two-operand arithmetic with numpy (multidirectional) broadcasting: Add, Sub, Mul, Div, Pow, and
// PRelu (slope broadcast to X only). The loops live in binary_common.h; this file holds the
// element functions and their contracts:
//   - integer arithmetic wraps modulo 2^bits; INT_MIN / -1 is INT_MIN;
//   - integer Div truncates toward zero (as C++ and ONNX Runtime); a zero divisor anywhere in B
//     is a run-time error naming the node, checked before anything is written;
//   - Pow: base and exponent float32/float64/int32/int64. An integer base with an integer
//     exponent is exact repeated multiplication (a negative exponent is a run-time error, as in
//     numpy); with a float exponent it is pow in double, converted back saturating (NaN -> 0).
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/binary_common.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using binary::AddOp;
using binary::BinaryPlan;
using binary::WrapType;

struct SubOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a - b;
    } else {
      return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
    }
  }
};

struct MulOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a * b;
    } else {
      return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
    }
  }
};

struct DivOp {
  static constexpr bool kRejectsZeroDivisor = true;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T> || std::is_unsigned_v<T>) {
      return a / b;
    } else {
      // INT_MIN / -1 overflows (and traps on x86); define it as the wrapped negation.
      return b == -1 ? static_cast<T>(WrapType<T>(0) - static_cast<WrapType<T>>(a))
                     : static_cast<T>(a / b);
    }
  }
};

// PRelu: x where x > 0, else x * slope (NaN x gives NaN, as ONNX Runtime).
struct PReluOp {
  template <typename T>
  T operator()(T x, T slope) const {
    return x > T(0) ? x : MulOp{}(x, slope);
  }
};

template <typename Op>
constexpr bool kRejectsZeroDivisor = requires {
  Op::kRejectsZeroDivisor;
};

// A kernel computing y = Op(a, b) for inputs 0 and 1 of dtype T.
template <typename T, typename Op>
Prepared make_same_type_kernel(const PrepareContext& ctx, const Shape& y_shape) {
  BinaryPlan plan = binary::make_binary_plan(ctx, ctx.input(0).shape, ctx.input(1).shape, y_shape);
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), y_shape}};
  p.kernel =
      make_kernel([plan = std::move(plan), label = binary::node_label(ctx)](
                      std::span<const Tensor* const> in, std::span<Tensor* const> out) -> Status {
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 0, dtype_of<T>(), plan.a));
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 1, dtype_of<T>(), plan.b));
        const T* a = in[0]->data<T>();
        const T* b = in[1]->data<T>();
        if constexpr (kRejectsZeroDivisor<Op> && std::is_integral_v<T>) {
          // Every element of B is some output's divisor unless the output is empty.
          if (plan.loop.numel > 0) {
            for (std::int64_t i = 0, n = in[1]->numel(); i < n; ++i) {
              if (b[i] == 0) {
                return Status::error(label + ": integer division by zero (B[" + std::to_string(i) +
                                     "])");
              }
            }
          }
        }
        binary::run_binary(plan, a, b, out[0]->data<T>(), Op{});
        return Status::ok();
      });
  return p;
}

// Add, Sub, Mul, Div: two inputs of one numeric dtype, output of that dtype.
template <typename Op>
Prepared prepare_arithmetic(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  binary::require_known_shape(ctx, 0);
  binary::require_known_shape(ctx, 1);
  const Shape y = binary::broadcast_or_fail(ctx, ctx.input(0).shape, ctx.input(1).shape);
  return binary::dispatch(ctx, 0, binary::NumericTypes{}, [&](auto tag) {
    return make_same_type_kernel<decltype(tag), Op>(ctx, y);
  });
}

// Saturating double -> integer conversion (a plain cast of an out-of-range value is UB).
template <typename T>
T saturate_to(double v) {
  if (std::isnan(v)) return T(0);
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  return static_cast<T>(v);
}

// x^e for an integer base and a non-negative integer exponent, wrapping on overflow.
template <typename T, typename E>
T int_pow(T x, E e) {
  using U = WrapType<T>;
  U result = 1;
  U base = static_cast<U>(x);
  auto n = static_cast<std::uint64_t>(e);
  while (n != 0) {
    if (n & 1) result = static_cast<U>(result * base);
    n >>= 1;
    if (n != 0) base = static_cast<U>(base * base);
  }
  return static_cast<T>(result);
}

// One element of Pow. A float base raised to a float exponent of its own type uses that type's
// pow; other pairs compute in double, as std::pow's promotion does in ONNX Runtime.
template <typename T, typename E>
T pow_element(T x, E e) {
  if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
    return std::pow(x, e);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
  } else if constexpr (std::is_integral_v<E>) {
    return int_pow(x, e);
  } else {
    return saturate_to<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
  }
}

template <typename T, typename E>
Prepared make_pow_kernel(const PrepareContext& ctx, const Shape& y_shape) {
  BinaryPlan plan = binary::make_binary_plan(ctx, ctx.input(0).shape, ctx.input(1).shape, y_shape);
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), y_shape}};
  p.kernel =
      make_kernel([plan = std::move(plan), label = binary::node_label(ctx)](
                      std::span<const Tensor* const> in, std::span<Tensor* const> out) -> Status {
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 0, dtype_of<T>(), plan.a));
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 1, dtype_of<E>(), plan.b));
        const T* x = in[0]->data<T>();
        const E* e = in[1]->data<E>();
        T* y = out[0]->data<T>();
        if constexpr (std::is_integral_v<T> && std::is_integral_v<E> && std::is_signed_v<E>) {
          if (plan.loop.numel > 0) {
            for (std::int64_t i = 0, n = in[1]->numel(); i < n; ++i) {
              if (e[i] < 0) {
                return Status::error(label + ": integer base with a negative exponent (Y[" +
                                     std::to_string(i) + "])");
              }
            }
          }
        }
        if constexpr (std::is_floating_point_v<T>) {
          // A one-element exponent of 2 or 3 is a product, as in ONNX Runtime (x^2 in decomposed
          // LayerNorm / variance is the common case).
          if (in[1]->numel() == 1 && e[0] == E(2)) {
            binary::run_binary(plan, x, e, y, [](T v, E) { return v * v; });
            return Status::ok();
          }
          if (in[1]->numel() == 1 && e[0] == E(3)) {
            binary::run_binary(plan, x, e, y, [](T v, E) { return v * v * v; });
            return Status::ok();
          }
        }
        binary::run_binary(plan, x, e, y, [](T v, E w) { return pow_element(v, w); });
        return Status::ok();
      });
  return p;
}

}  // namespace

Prepared prepare_add(const PrepareContext& ctx) { return prepare_arithmetic<AddOp>(ctx); }
Prepared prepare_sub(const PrepareContext& ctx) { return prepare_arithmetic<SubOp>(ctx); }
Prepared prepare_mul(const PrepareContext& ctx) { return prepare_arithmetic<MulOp>(ctx); }
Prepared prepare_div(const PrepareContext& ctx) { return prepare_arithmetic<DivOp>(ctx); }

Prepared prepare_pow(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  binary::require_known_shape(ctx, 0);
  binary::require_known_shape(ctx, 1);
  const Shape y = binary::broadcast_or_fail(ctx, ctx.input(0).shape, ctx.input(1).shape);
  // The dtypes ONNX Runtime takes for both; other exponent dtypes are rare and fail at load.
  using Types = binary::TypeList<float, double, std::int32_t, std::int64_t>;
  return binary::dispatch(ctx, 0, Types{}, [&](auto base_tag) {
    return binary::dispatch(ctx, 1, Types{}, [&](auto exponent_tag) {
      return make_pow_kernel<decltype(base_tag), decltype(exponent_tag)>(ctx, y);
    });
  });
}

Prepared prepare_prelu(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  binary::require_known_shape(ctx, 0);
  binary::require_known_shape(ctx, 1);
  const Shape& x = ctx.input(0).shape;
  const Shape& slope = ctx.input(1).shape;
  const std::optional<Shape> y = broadcast_shapes(x, slope);
  if (!y || *y != x) {
    ctx.fail("slope shape " + shape_to_string(slope) + " does not broadcast to X shape " +
             shape_to_string(x));
  }
  using Types = binary::TypeList<float, double, std::int32_t, std::int64_t>;
  return binary::dispatch(ctx, 0, Types{}, [&](auto tag) {
    return make_same_type_kernel<decltype(tag), PReluOp>(ctx, x);
  });
}

}  // namespace dnnfi
