// Two-operand arithmetic with numpy (multidirectional) broadcasting: Add, Sub, Mul, Div, Pow, Mod,
// BitShift, and PRelu (slope broadcast to X only); before opset 7, the legacy broadcast/axis form
// (binary_common.h's make_elementwise_plan) and PRelu's shared or per-channel slope. The loops live
// in binary_common.h; this file holds the element functions and their contracts:
//   - integer arithmetic wraps modulo 2^bits; INT_MIN / -1 is INT_MIN;
//   - integer Div truncates toward zero (as C++ and ONNX Runtime); a zero divisor anywhere in B
//     is a run-time error naming the node, checked before anything is written;
//   - Pow: base and exponent float32/float64/int32/int64. An integer base with an integer
//     exponent is exact repeated multiplication (a negative exponent is a run-time error, as in
//     numpy); with a float exponent it is pow in double, converted back saturating (NaN -> 0).
//     Exponents may also be uint32/uint64 (opset 15's T1).
//   - Mod and BitShift: see prepare_mod and prepare_bit_shift (zero divisors and over-wide shifts
//     are defined, never UB).
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/binary_common.h"
#include "ops/ops.h"
#include "ops/row_map.h"

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

// Mod with fmod = 1: the remainder has the dividend's sign.
struct FmodOp {
  static constexpr bool kRejectsZeroDivisor = true;  // integers only; a float one gives NaN
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else if constexpr (std::is_unsigned_v<T>) {
      return a % b;
    } else {
      return b == -1 ? T(0) : static_cast<T>(a % b);  // INT_MIN % -1 is UB
    }
  }
};

// Mod with fmod = 0 on integers: the remainder has the divisor's sign (Python's %).
struct IntModOp {
  static constexpr bool kRejectsZeroDivisor = true;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a;  // unreachable: prepare requires fmod = 1 for floats
    } else if constexpr (std::is_unsigned_v<T>) {
      return a % b;
    } else {
      if (b == -1) return T(0);
      const T r = static_cast<T>(a % b);
      return r != 0 && ((r < 0) != (b < 0)) ? static_cast<T>(r + b) : r;
    }
  }
};

// BitShift on unsigned integers; shifts by the bit width or more give 0.
struct ShiftLeftOp {
  template <typename T>
  T operator()(T a, T b) const {
    return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(static_cast<WrapType<T>>(a) << b);
  }
};
struct ShiftRightOp {
  template <typename T>
  T operator()(T a, T b) const {
    return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(a >> b);
  }
};

template <typename Op>
constexpr bool kRejectsZeroDivisor = requires {
  Op::kRejectsZeroDivisor;
};

// A kernel computing y = Op(a, b) for inputs 0 and 1 of dtype T.
template <typename T, typename Op>
class SameTypeKernel final : public Kernel {
 public:
  SameTypeKernel(BinaryPlan plan, std::string label)
      : plan_(std::move(plan)), label_(std::move(label)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(binary::check_input(label_, in, 0, dtype_of<T>(), plan_.a));
    DNNFI_RETURN_IF_ERROR(binary::check_input(label_, in, 1, dtype_of<T>(), plan_.b));
    const T* a = in[0]->data<T>();
    const T* b = in[1]->data<T>();
    if constexpr (kRejectsZeroDivisor<Op> && std::is_integral_v<T>) {
      // Every element of B is some output's divisor unless the output is empty.
      if (plan_.loop.numel > 0) {
        for (std::int64_t i = 0, n = in[1]->numel(); i < n; ++i) {
          if (b[i] == 0) {
            return Status::error(label_ + ": integer division by zero (B[" + std::to_string(i) +
                                 "])");
          }
        }
      }
    }
    binary::run_binary(plan_, a, b, out[0]->data<T>(), Op{});
    return Status::ok();
  }
  // Floating-point operands of the output's shape (no broadcasting): each element is Op of the
  // two at its position, wherever it lies.
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    if constexpr (!std::is_floating_point_v<T>) {
      return false;
    } else {
      const std::array<const RowInput*, 2> x{&in[0], &in[1]};
      if (in.size() != 2 || !rows::same_shape(x, out)) return false;
      rows::for_segments<T>(x, out, lo, hi,
                            [](std::int64_t, const auto& src, T* y, std::int64_t n) {
                              const T* a = src[0];
                              const T* b = src[1];
                              const Op op{};
                              for (std::int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
                            });
      return true;
    }
  }

 private:
  BinaryPlan plan_;
  std::string label_;
};

template <typename T, typename Op>
Prepared make_same_type_kernel(const PrepareContext& ctx, BinaryPlan plan) {
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), plan.y}};
  p.kernel = std::make_unique<SameTypeKernel<T, Op>>(std::move(plan), binary::node_label(ctx));
  return p;
}

// Add, Sub, Mul, Div: two inputs of one numeric dtype, output of that dtype. Versions 1 and 6
// differ from 7 only in the legacy broadcast attributes (make_elementwise_plan) and version 1's
// consumed_inputs.
template <typename Op>
Prepared prepare_arithmetic(const PrepareContext& ctx) {
  binary::allow_elementwise_attributes(ctx, true);
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  BinaryPlan plan = binary::make_elementwise_plan(ctx);
  return binary::dispatch(ctx, 0, binary::NumericTypes{}, [&](auto tag) {
    return make_same_type_kernel<decltype(tag), Op>(ctx, std::move(plan));
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
Prepared make_pow_kernel(const PrepareContext& ctx, BinaryPlan plan) {
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), plan.y}};
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

// Pow-1 differs from Pow-7 only in the legacy broadcast attributes (make_elementwise_plan).
Prepared prepare_pow(const PrepareContext& ctx) {
  binary::allow_elementwise_attributes(ctx, false);
  ctx.require_inputs(2, 2);
  const BinaryPlan plan = binary::make_elementwise_plan(ctx);
  // Bases: the dtypes ONNX Runtime takes. Exponents: those and the unsigned ones of opset 15's T1
  // (an unsigned exponent is never negative); 8- and 16-bit exponents fail at load.
  using BaseTypes = binary::TypeList<float, double, std::int32_t, std::int64_t>;
  using ExponentTypes =
      binary::TypeList<float, double, std::int32_t, std::int64_t, std::uint32_t, std::uint64_t>;
  return binary::dispatch(ctx, 0, BaseTypes{}, [&](auto base_tag) {
    return binary::dispatch(ctx, 1, ExponentTypes{}, [&](auto exponent_tag) {
      return make_pow_kernel<decltype(base_tag), decltype(exponent_tag)>(ctx, plan);
    });
  });
}

// PRelu-1 and PRelu-6 predate broadcasting: their slope is either one value shared by every
// channel or one value per channel (shape [C], C = X's axis 1, as the PyTorch exporter emits for
// nn.PReLU(C)). Other slope shapes are not defined before opset 7 and are rejected.
Prepared prepare_prelu(const PrepareContext& ctx) {
  if (ctx.opset() < 6) {
    ctx.allow_attributes({"consumed_inputs"});
  } else {
    ctx.allow_attributes({});
  }
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  binary::require_known_shape(ctx, 0);
  binary::require_known_shape(ctx, 1);
  const Shape& x = ctx.input(0).shape;
  const Shape& slope = ctx.input(1).shape;
  BinaryPlan plan;
  if (ctx.opset() < 7) {
    Shape aligned(x.size(), 1);
    if (shape_numel(slope) != 1) {
      if (slope.size() != 1 || x.size() < 2 || slope[0] != x[1]) {
        ctx.unsupported("slope shape " + shape_to_string(slope) + " with X shape " +
                        shape_to_string(x) + ": before opset 7 the slope must have one element " +
                        "or one per channel (X's axis 1)");
      }
      aligned[1] = slope[0];
    }
    plan = binary::make_binary_plan(ctx, x, aligned, x);
    plan.b = slope;
  } else {
    const std::optional<Shape> y = broadcast_shapes(x, slope);
    if (!y || *y != x) {
      ctx.fail("slope shape " + shape_to_string(slope) + " does not broadcast to X shape " +
               shape_to_string(x));
    }
    plan = binary::make_binary_plan(ctx, x, slope, x);
  }
  using Types = binary::TypeList<float, double, std::int32_t, std::int64_t>;
  return binary::dispatch(ctx, 0, Types{}, [&](auto tag) {
    return make_same_type_kernel<decltype(tag), PReluOp>(ctx, std::move(plan));
  });
}

// Mod (opset 10): fmod = 0 is the integer remainder with the divisor's sign (Python's %), fmod = 1
// the remainder with the dividend's sign (C's % and fmod). Floats need fmod = 1 (the spec's rule;
// fmod = 0 on floats is a load-time error). Integer x % -1 is 0 (C++ leaves INT_MIN % -1
// undefined); an integer zero divisor is a run-time error like Div's, a float one gives NaN.
// float16 / bfloat16 are not supported here.
Prepared prepare_mod(const PrepareContext& ctx) {
  ctx.allow_attributes({"fmod"});
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  const std::int64_t fmod = ctx.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) ctx.fail("attribute fmod must be 0 or 1");
  const bool is_float =
      ctx.input(0).dtype == DType::kFloat32 || ctx.input(0).dtype == DType::kFloat64;
  if (is_float && fmod == 0) ctx.fail("fmod must be 1 for floating-point inputs");
  BinaryPlan plan = binary::make_elementwise_plan(ctx);
  return binary::dispatch(ctx, 0, binary::NumericTypes{}, [&](auto tag) {
    return fmod == 1 ? make_same_type_kernel<decltype(tag), FmodOp>(ctx, std::move(plan))
                     : make_same_type_kernel<decltype(tag), IntModOp>(ctx, std::move(plan));
  });
}

// BitShift (opset 11) on unsigned integers; direction "LEFT" or "RIGHT" (required). A shift by at
// least the bit width gives 0 (in C++ it is undefined; x86 would shift by the amount modulo the
// width), so a corrupted shift amount cannot cause undefined behaviour.
Prepared prepare_bit_shift(const PrepareContext& ctx) {
  ctx.allow_attributes({"direction"});
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  if (!ctx.has_attr("direction")) ctx.fail("attribute 'direction' is required");
  const std::string direction = ctx.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") {
    ctx.fail("direction must be \"LEFT\" or \"RIGHT\", is \"" + direction + "\"");
  }
  BinaryPlan plan = binary::make_elementwise_plan(ctx);
  using Types = binary::TypeList<std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t>;
  return binary::dispatch(ctx, 0, Types{}, [&](auto tag) {
    return direction == "LEFT"
               ? make_same_type_kernel<decltype(tag), ShiftLeftOp>(ctx, std::move(plan))
               : make_same_type_kernel<decltype(tag), ShiftRightOp>(ctx, std::move(plan));
  });
}

}  // namespace dnnfi
