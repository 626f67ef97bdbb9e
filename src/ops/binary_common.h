// Shared by the broadcasting elementwise ops (binary.cpp, variadic.cpp, compare.cpp): dtype
// dispatch, the prepared plan of a two-operand op, and the loop that runs it — the reference
// (plain index arithmetic, broadcast.h's for_each_broadcast) or the optimised one (merged axes,
// contiguous or one-value inner runs the compiler vectorises, OpenMP blocks for large outputs).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/broadcast.h"
#include "ops/kernel.h"

namespace dnnfi::binary {

template <typename... Ts>
struct TypeList {};
using FloatTypes = TypeList<float, double>;
using IntTypes = TypeList<std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                          std::uint32_t, std::int64_t, std::uint64_t>;
using NumericTypes = TypeList<float, double, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                              std::int32_t, std::uint32_t, std::int64_t, std::uint64_t>;

// Calls f(T{}) for the C++ type T of input `input`'s dtype, one of Ts; any other dtype is a
// load-time UnsupportedError naming the input.
template <typename F, typename... Ts>
Prepared dispatch(const PrepareContext& ctx, std::size_t input, TypeList<Ts...>, F&& f) {
  const DType t = ctx.input(input).dtype;
  std::optional<Prepared> result;
  ((t == dtype_of<Ts>() ? (void)result.emplace(f(Ts{})) : void()), ...);
  if (!result) {
    ctx.unsupported("input " + std::to_string(input) + " has unsupported dtype " +
                    std::string(dtype_name(t)));
  }
  return std::move(*result);
}

// Integer arithmetic wraps modulo 2^bits (two's complement) instead of overflowing, which is UB:
// injected faults make huge values routine. Types narrower than int are computed as unsigned int.
template <typename T>
using WrapType =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

// a + b, wrapping for integers (shared by Add and Sum).
struct AddOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a + b;
    } else {
      return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
    }
  }
};

// "node 'name' (OpType)", the prefix of run-time error messages.
std::string node_label(const PrepareContext& ctx);

// Fails unless every dim of input i is known (>= 0).
void require_known_shape(const PrepareContext& ctx, std::size_t i);

// The numpy broadcast of a and b; fails naming both shapes when they are incompatible.
Shape broadcast_or_fail(const PrepareContext& ctx, const Shape& a, const Shape& b);

// Everything needed to run y = op(a, b) over shapes a, b broadcast to y.
struct BinaryPlan {
  Shape a, b, y;
  BroadcastLoop loop;                        // optimised path
  std::vector<std::int64_t> ref_strides[2];  // reference path (broadcast_strides)
  bool reference = false;
};

BinaryPlan make_binary_plan(const PrepareContext& ctx, const Shape& a, const Shape& b,
                            const Shape& y);

// Attributes of a two-operand op (Add ... Pow, And/Or/Xor, Equal/Less/Greater) at the node's
// opset: none from opset 7; before it the legacy `broadcast` and `axis` (make_elementwise_plan
// honours them) and, before opset 6, `consumed_inputs`, an in-place hint without effect on the
// result (only Add/Sub/Mul/Div version 1 define it; pass consumed_inputs = false for the others).
void allow_elementwise_attributes(const PrepareContext& ctx, bool consumed_inputs);

// The plan of y = op(input 0, input 1), y's shape in plan.y. From opset 7 numpy (multidirectional)
// broadcasting. Before opset 7 the legacy form: without `broadcast` = 1 the shapes must be equal;
// with it, B is broadcast to A's shape (y has A's shape): a one-element B of rank <= rank(A) is a
// scalar, otherwise B's dims are placed at A's axes `axis`.. (default: suffix matching) and each
// must equal A's dim or be 1 (the size-1 expansion the PyTorch exporter emits, e.g. A [2,3], B
// [2,1], axis 0). plan.b stays B's own shape, so the kernel's input check sees the real tensor.
BinaryPlan make_elementwise_plan(const PrepareContext& ctx);

// Fails unless inputs i and j have the same dtype.
void require_same_dtype(const PrepareContext& ctx, std::size_t i, std::size_t j);

// Run-time guard: input i is present and has the dtype and shape prepare saw.
Status check_input(const std::string& label, std::span<const Tensor* const> in, std::size_t i,
                   DType dtype, const Shape& shape);

// y = op(a, b) elementwise, y a fresh tensor of shape plan.y. op is applied to every output
// element exactly once, so results do not depend on the thread count.
template <typename TA, typename TB, typename TY, typename Op>
void run_binary(const BinaryPlan& p, const TA* a, const TB* b, TY* y, const Op& op) {
  if (p.reference) {
    for_each_broadcast<2>(p.y, p.ref_strides, [&](std::int64_t i, const std::int64_t* off) {
      y[i] = op(a[off[0]], b[off[1]]);
    });
    return;
  }
  const bool a_runs = p.loop.inner_stride(0) != 0;
  const bool b_runs = p.loop.inner_stride(1) != 0;
  if (a_runs && b_runs) {
    for_each_broadcast_row<2>(p.loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
      const TA* pa = a + off[0];
      const TB* pb = b + off[1];
      TY* py = y + o;
      for (std::int64_t j = 0; j < n; ++j) py[j] = op(pa[j], pb[j]);
    });
  } else if (a_runs) {
    for_each_broadcast_row<2>(p.loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
      const TA* pa = a + off[0];
      const TB bv = b[off[1]];
      TY* py = y + o;
      for (std::int64_t j = 0; j < n; ++j) py[j] = op(pa[j], bv);
    });
  } else {
    for_each_broadcast_row<2>(p.loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
      const TA av = a[off[0]];
      const TB* pb = b + off[1];
      TY* py = y + o;
      for (std::int64_t j = 0; j < n; ++j) py[j] = op(av, pb[j]);
    });
  }
}

// y = op(y, b) elementwise, in place: the accumulation step of variadic ops. plan.a must equal
// plan.y. Reading and writing through the one pointer lets the compiler vectorise without an
// aliasing check.
template <typename T, typename TB, typename Op>
void run_accumulate(const BinaryPlan& p, T* y, const TB* b, const Op& op) {
  if (p.reference) {
    for_each_broadcast<2>(p.y, p.ref_strides, [&](std::int64_t i, const std::int64_t* off) {
      y[i] = op(y[i], b[off[1]]);
    });
    return;
  }
  if (p.loop.inner_stride(1) != 0) {
    for_each_broadcast_row<2>(p.loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
      T* py = y + o;
      const TB* pb = b + off[1];
      for (std::int64_t j = 0; j < n; ++j) py[j] = op(py[j], pb[j]);
    });
  } else {
    for_each_broadcast_row<2>(p.loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
      T* py = y + o;
      const TB bv = b[off[1]];
      for (std::int64_t j = 0; j < n; ++j) py[j] = op(py[j], bv);
    });
  }
}

}  // namespace dnnfi::binary
